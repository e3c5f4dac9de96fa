"""BOLT11 encoding and strict decoding (timmy.lightning.bolt11)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from bech32 import CHARSET, bech32_decode, bech32_encode
from coincurve import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from timmy.lightning.bolt11 import (
    MAX_DESCRIPTION_BYTES,
    MAX_ENCODE_SATS,
    MIN_FINAL_CLTV_EXPIRY,
    decode_invoice,
    encode_invoice,
    new_preimage,
    preimage_matches,
)
from timmy.lightning.errors import InvalidInvoice

KEY = bytes.fromhex("7f" * 32)
PUBKEY = PrivateKey(KEY).public_key.format(compressed=True).hex()
HASH = hashlib.sha256(b"timmy").digest()
NOW = 1_750_000_000

# BOLT 11 examples (lightning/bolts 11-payment-encoding.md), all signed by the spec's key.
SPEC_PAYEE = "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad"
SPEC_HASH = "0001020304050607080900010203040506070809000102030405060708090102"
SPEC_TIMESTAMP = 1496314658
# "Please send $30 for coffee beans to the same peer, which supports features 9, 15 and 99,
# using secret 0x1111...".
SPEC_COFFEE_BEANS = (
    "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpd"
    "eessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq67gye39hfg"
    "3zd8rgc80k32tvy9xk2xunwm5lzexnvpx6fd77en8qaq424dxgt56cag2dpt359k3ssyhetktkpqh24jqnjyw6uqd08"
    "sgptq44qu"
)
# "Same, but including fields which must be ignored.", spelt out field by field as in the spec's
# breakdown: an unknown field, a type-19 fallback, and p/h/s/n fields of the wrong lengths.
SPEC_IGNORED_FIELDS = "".join(
    [
        "lnbc25m1pvjluez",
        "pp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq",
        "dq5vdhkven9v5sxyetpdees",
        "sp5" + "zyg3" * 12 + "zygs",
        "9q5sqqqqqqqqqqqqqqqpqsq",
        "2qrqqq",  # unknown field 2
        "fppn" + "q" * 32,  # fallback of unknown version 19
        "ppn" + "q" * 51,  # p of length 51
        "pp4" + "q" * 53,  # p of length 53
        "hpn" + "q" * 51,
        "hp4" + "q" * 53,
        "spn" + "q" * 51,
        "sp4" + "q" * 53,
        "np5" + "q" * 52,  # n of length 52
        "npk" + "q" * 54,
        "2jxxfsnucm4jf4zwtznpaxphce606fvhvje5x7d4gw7n73994hgs7nteqvenq8a4ml8aqtchv5d9pf7l5588",
        "89hp4yyrqv6a7zpq9fgp",  # signature
        "skqhza",  # checksum
    ]
)
# "Please send $3 for a cup of coffee to the same peer, within one minute" (legacy: no `s`).
SPEC_LEGACY_NO_SECRET = (
    "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4"
    "jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emu"
    "dupq63nyw24cg27h2rspfj9srp"
)
# "Examples of Invalid Invoices".
SPEC_INVALID = {
    "unknown required feature 100": (
        "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyet"
        "pdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q4psqqqqqqqqqqqqqqqpqsqq40wa"
        "3khl49yue3zsgm26jrepqr2eghqlx86rttutve3ugd05em86nsefzh4pfurpd9ek9w2vp95zxqnfe2u7ckudyahsa"
        "52q66tgzcp6t2dyk"
    ),
    "bad checksum": (
        "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9w"
        "lrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakk"
        "y2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrnt"
    ),
    "no separator": (
        "pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4ey"
        "qc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45t"
        "ftc9c5fh0nnqpnl2jfll544esqchsrny"
    ),
    "mixed case": (
        "LNBC2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9w"
        "lrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakk"
        "y2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny"
    ),
    "signature not recoverable": (
        "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7e"
        "nxv4jsxqzpuaxtrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97"
        "j25emudupq63nyw24cg27h2rspk28uwq"
    ),
    "too short": (
        "lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5k"
        "getjypeh2ursdae8g6na6hlh"
    ),
    "invalid multiplier": (
        "lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7e"
        "nxv4jsxqzpujr6jxr9gq9pv6g46y7d20jfkegkg4gljz2ea2a3m9lmvvr95tq2s0kvu70u3axgelz3kyvtp2ywwt0"
        "y8hkx2869zq5dll9nelr83zzqqpgl2zg"
    ),
    "sub-millisatoshi precision": (
        "lnbc2500000001p1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxat"
        "syp3k7enxv4jsxqzpu7hqtk93pkf7sw55rdv4k9z2vj050rxdr6za9ekfs3nlt5lr89jqpdmxsmlj9urqumg0h9w"
        "zpqecw7th56tdms40p2ny9q4ddvjsedzcplva53s"
    ),
}


def _encode(**overrides: object) -> str:
    args: dict[str, object] = {
        "payment_hash": HASH,
        "amount_sats": 21,
        "description": "one job for Timmy",
        "expiry": 600,
        "signing_key": KEY,
        "network": "bcrt",
        "timestamp": NOW,
    }
    args.update(overrides)
    return encode_invoice(**args)  # type: ignore[arg-type]


def _tagged_fields(invoice: str) -> list[tuple[str, list[int]]]:
    """(tag char, 5-bit data) for every tagged field, read independently of the library."""
    hrp, data = bech32_decode(invoice)
    assert hrp is not None
    assert data is not None
    fields = data[7:-104]  # 35-bit timestamp first, 520-bit signature last
    out = []
    while fields:
        length = fields[1] * 32 + fields[2]
        out.append((CHARSET[fields[0]], fields[3 : 3 + length]))
        fields = fields[3 + length :]
    return out


def _u5_int(groups: list[int]) -> int:
    value = 0
    for group in groups:
        value = value * 32 + group
    return value


def _rechecksummed(invoice: str, mutate: object) -> str:
    """The invoice with its data changed by ``mutate`` and a *valid* checksum recomputed."""
    hrp, data = bech32_decode(invoice)
    assert hrp is not None
    assert data is not None
    return bech32_encode(hrp, mutate(list(data)))  # type: ignore[operator]


# -- encode -> decode ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount_sats", "hrp"),
    [
        (1, "lnbcrt10n"),
        (21, "lnbcrt210n"),
        (10_000, "lnbcrt100u"),
        (2_100_000_000, "lnbcrt21"),
    ],
)
def test_round_trip_preserves_every_field(amount_sats: int, hrp: str) -> None:
    # Given an invoice we signed
    invoice = _encode(amount_sats=amount_sats)

    # When it is decoded
    decoded = decode_invoice(invoice)

    # Then the amount sits in the hrp with the shortest multiplier and every field survives
    assert invoice.startswith(hrp + "1")
    assert decoded.amount_sats == amount_sats
    assert decoded.amount_msat == amount_sats * 1000
    assert decoded.payment_hash == HASH.hex()
    assert decoded.description == "one job for Timmy"
    assert decoded.description_hash is None
    assert decoded.expiry == 600
    assert decoded.timestamp == NOW
    assert decoded.expires_at == datetime.fromtimestamp(NOW + 600, UTC)
    assert decoded.created_at == datetime.fromtimestamp(NOW, UTC)
    assert decoded.network == "bcrt"
    assert decoded.min_final_cltv_expiry == MIN_FINAL_CLTV_EXPIRY
    assert decoded.bolt11 == invoice


def test_signature_recovers_the_signing_keys_public_key() -> None:
    other_key = bytes.fromhex("42" * 32)

    assert decode_invoice(_encode()).payee == PUBKEY
    assert (
        decode_invoice(_encode(signing_key=other_key)).payee
        == PrivateKey(other_key).public_key.format(compressed=True).hex()
    )


def test_invoice_has_exactly_one_p_and_s_plus_d_x_c_and_features() -> None:
    fields = _tagged_fields(_encode())
    chars = [char for char, _ in fields]
    by_char = dict(fields)

    assert sorted(chars) == sorted(["p", "s", "d", "x", "c", "9"])
    assert len(by_char["p"]) == 52
    assert len(by_char["s"]) == 52
    assert _u5_int(by_char["x"]) == 600
    assert _u5_int(by_char["c"]) == MIN_FINAL_CLTV_EXPIRY
    # var_onion_optin (bit 8) and payment_secret (bit 14), both required, nothing else
    assert _u5_int(by_char["9"]) == (1 << 8) | (1 << 14)


def test_payment_secret_is_random_per_invoice() -> None:
    first = dict(_tagged_fields(_encode()))["s"]
    second = dict(_tagged_fields(_encode()))["s"]

    assert first != second


@pytest.mark.parametrize("network", ["bc", "tb", "tbs", "bcrt"])
def test_network_is_the_hrp_currency(network: str) -> None:
    invoice = _encode(network=network)

    assert invoice.startswith(f"ln{network}210n1")
    assert decode_invoice(invoice).network == network


@pytest.mark.parametrize(
    "description", ["", "ナンセンス 1杯", "x" * MAX_DESCRIPTION_BYTES, 'quote " and \\ slash']
)
def test_descriptions_round_trip(description: str) -> None:
    assert decode_invoice(_encode(description=description)).description == description


def test_default_timestamp_is_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    decoded = decode_invoice(_encode(timestamp=None))

    assert before <= decoded.created_at <= datetime.now(UTC)


@settings(max_examples=40, deadline=None)
@given(
    amount_sats=st.integers(min_value=1, max_value=MAX_ENCODE_SATS),
    description=st.text(max_size=100),
    expiry=st.integers(min_value=1, max_value=10 * 365 * 86400),
)
def test_round_trip_property(amount_sats: int, description: str, expiry: int) -> None:
    decoded = decode_invoice(
        _encode(amount_sats=amount_sats, description=description, expiry=expiry)
    )

    assert (decoded.amount_sats, decoded.description, decoded.expiry) == (
        amount_sats,
        description,
        expiry,
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount_sats": 0},
        {"amount_sats": -5},
        {"amount_sats": True},
        {"amount_sats": 1.5},
        {"amount_sats": MAX_ENCODE_SATS + 1},
        {"payment_hash": b"\x00" * 31},
        {"payment_hash": HASH.hex()},
        {"description": "x" * (MAX_DESCRIPTION_BYTES + 1)},
        {"description": "é" * 320},  # 640 UTF-8 bytes
        {"expiry": 0},
        {"network": "lnbc"},
        {"signing_key": b"\x00" * 32},
        {"signing_key": b"\xff" * 32},
        {"signing_key": KEY[:31]},
        {"signing_key": KEY.hex()},
        {"timestamp": -1},
        {"timestamp": 2**35},
    ],
)
def test_encode_rejects_bad_arguments(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        _encode(**overrides)


# -- decoding other people's invoices ------------------------------------------------------


def test_decodes_spec_example_with_payment_secret() -> None:
    decoded = decode_invoice(SPEC_COFFEE_BEANS)

    assert decoded.payee == SPEC_PAYEE
    assert decoded.payment_hash == SPEC_HASH
    assert decoded.amount_msat == 2_500_000_000  # 25 mBTC
    assert decoded.amount_sats == 2_500_000
    assert decoded.description == "coffee beans"
    assert decoded.network == "bc"
    assert decoded.timestamp == SPEC_TIMESTAMP
    assert decoded.expiry == 3600  # the default when there is no x field
    assert decoded.min_final_cltv_expiry == 18  # the default when there is no c field


def test_decodes_spec_example_in_upper_case_and_as_uri() -> None:
    expected = decode_invoice(SPEC_COFFEE_BEANS)

    assert decode_invoice(SPEC_COFFEE_BEANS.upper()) == expected
    assert decode_invoice("lightning:" + SPEC_COFFEE_BEANS) == expected
    assert decode_invoice("LIGHTNING:" + SPEC_COFFEE_BEANS.upper()) == expected
    assert decode_invoice("lightning:" + SPEC_COFFEE_BEANS.upper()) == expected
    assert expected.bolt11 == SPEC_COFFEE_BEANS


def test_spec_example_with_fields_to_ignore_decodes_to_the_same_invoice() -> None:
    decoded = decode_invoice(SPEC_IGNORED_FIELDS)

    assert decoded.payee == SPEC_PAYEE
    assert decoded.payment_hash == SPEC_HASH
    assert decoded.description == "coffee beans"
    assert decoded.amount_sats == 2_500_000


def test_legacy_invoice_without_payment_secret_is_rejected() -> None:
    with pytest.raises(InvalidInvoice, match="payment_secret"):
        decode_invoice(SPEC_LEGACY_NO_SECRET)


@pytest.mark.parametrize("name", sorted(SPEC_INVALID))
def test_spec_invalid_examples_are_rejected(name: str) -> None:
    with pytest.raises(InvalidInvoice) as caught:
        decode_invoice(SPEC_INVALID[name])

    assert caught.value.code == "invalid_invoice"
    assert caught.value.status == 400


def test_specific_reasons_are_reported() -> None:
    with pytest.raises(InvalidInvoice, match="feature bit 100"):
        decode_invoice(SPEC_INVALID["unknown required feature 100"])
    with pytest.raises(InvalidInvoice, match="sub-millisatoshi"):
        decode_invoice(SPEC_INVALID["sub-millisatoshi precision"])
    with pytest.raises(InvalidInvoice, match="mixes upper and lower case"):
        decode_invoice(SPEC_INVALID["mixed case"])


def test_amount_that_is_not_whole_sats_keeps_msat_but_has_no_sats() -> None:
    # Given a correctly signed invoice for 1500 msat (1.5 sat), made with the library itself
    from bolt11 import Bolt11, MilliSatoshi, Tags, encode

    tags = Tags.from_dict(
        {"payment_hash": HASH.hex(), "payment_secret": "11" * 32, "description": "odd"}
    )
    invoice = encode(
        Bolt11(currency="bc", date=NOW, tags=tags, amount_msat=MilliSatoshi(1500)), KEY.hex()
    )

    decoded = decode_invoice(invoice)

    assert decoded.amount_msat == 1500
    assert decoded.amount_sats is None


def test_invoice_without_amount_has_no_amount() -> None:
    from bolt11 import Bolt11, Tags, encode

    tags = Tags.from_dict(
        {"payment_hash": HASH.hex(), "payment_secret": "11" * 32, "description": "tip"}
    )
    decoded = decode_invoice(encode(Bolt11(currency="bc", date=NOW, tags=tags), KEY.hex()))

    assert decoded.amount_msat is None
    assert decoded.amount_sats is None


# -- tampering and garbage -----------------------------------------------------------------


def test_any_single_character_change_is_rejected() -> None:
    invoice = _encode()
    data_start = invoice.rfind("1") + 1
    for index in range(data_start, len(invoice), 7):
        replacement = "q" if invoice[index] != "q" else "p"
        tampered = invoice[:index] + replacement + invoice[index + 1 :]
        with pytest.raises(InvalidInvoice):
            decode_invoice(tampered)


def test_tampered_content_with_a_fresh_checksum_no_longer_names_our_node() -> None:
    # Given an invoice whose description was changed and checksum recomputed (no key needed)
    def change_description_char(data: list[int]) -> list[int]:
        fields_start = 7
        index = fields_start
        while CHARSET[data[index]] != "d":
            index += 3 + data[index + 1] * 32 + data[index + 2]
        data[index + 3] ^= 1
        return data

    tampered = _rechecksummed(_encode(), change_description_char)

    # Then either the signature does not recover at all, or it recovers some other key
    try:
        decoded = decode_invoice(tampered)
    except InvalidInvoice:
        return
    assert decoded.payee != PUBKEY
    assert decoded.description != "one job for Timmy"


def test_invalid_recovery_id_with_a_fresh_checksum_is_rejected() -> None:
    def break_recovery_id(data: list[int]) -> list[int]:
        # The recovery id is the signature's last byte: bits 512..519 of the last 104 groups.
        data[-2] = 0b00111  # makes the recovery id > 3
        return data

    with pytest.raises(InvalidInvoice):
        decode_invoice(_rechecksummed(_encode(), break_recovery_id))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        " ",
        "lightning:",
        "lnbc",
        "hello world",
        "lnbc1",
        "lnbc1qqqqqqqq",
        "ln" + "q" * 600,
        "lnxy2500u1" + "q" * 200,
        "lnbc0n1" + "q" * 200,
        "lnbc2500u1" + "é" * 50,
        "x" * 20_000,
        "\x00lnbc",
    ],
)
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(InvalidInvoice):
        decode_invoice(garbage)


@pytest.mark.parametrize("wrap", [" {}", "{} ", "{}\n", "\t{}", "lightning: {}"])
def test_whitespace_around_a_valid_invoice_is_rejected(wrap: str) -> None:
    with pytest.raises(InvalidInvoice, match="whitespace"):
        decode_invoice(wrap.format(_encode()))


@pytest.mark.parametrize("value", [None, 123, b"lnbc1", ["lnbc"]])
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(InvalidInvoice, match="string"):
        decode_invoice(value)  # type: ignore[arg-type]


def test_is_expired_uses_timestamp_plus_expiry() -> None:
    decoded = decode_invoice(_encode(expiry=600))
    created = datetime.fromtimestamp(NOW, UTC)

    assert not decoded.is_expired(created + timedelta(seconds=599))
    assert decoded.is_expired(created + timedelta(seconds=600))


# -- preimages -----------------------------------------------------------------------------


def test_new_preimage_hashes_to_its_payment_hash() -> None:
    preimage, payment_hash = new_preimage()

    assert len(preimage) == 64
    assert len(payment_hash) == 64
    assert hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == payment_hash
    assert preimage_matches(preimage, payment_hash)


def test_new_preimages_are_unique() -> None:
    assert len({new_preimage()[0] for _ in range(50)}) == 50


def test_preimage_matches_rejects_wrong_and_malformed_values() -> None:
    preimage, payment_hash = new_preimage()
    other, _ = new_preimage()

    assert preimage_matches(preimage.upper(), payment_hash.upper())
    assert not preimage_matches(other, payment_hash)
    assert not preimage_matches(payment_hash, payment_hash)
    assert not preimage_matches(None, payment_hash)
    assert not preimage_matches(preimage[:-2], payment_hash)
    assert not preimage_matches("zz" * 32, payment_hash)
    assert not preimage_matches(preimage, "not a hash")
