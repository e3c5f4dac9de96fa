"""DigitalOcean client against a fake API shaped like digitalocean/openapi (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from timmy.errors import UpstreamBadGateway, UpstreamUnavailable
from timmy.provisioning.cloudinit import USER_DATA_MAX_BYTES, UserDataTooLarge
from timmy.provisioning.digitalocean import DigitalOceanClient, Droplet
from timmy.provisioning.errors import (
    ProvisioningFailed,
    ProvisioningOutcomeUnknown,
    ProvisioningUnavailable,
)
from timmy.provisioning.sshkeys import generate_ssh_keypair

TOKEN = "dop_v1_" + "f" * 64
BASE = "https://api.digitalocean.com"

Answer = Callable[[httpx.Request], httpx.Response]


class FakeDO:
    """Answers requests in order from a script; records every request it saw."""

    def __init__(self, *answers: Answer | httpx.Response | Exception) -> None:
        self._answers: Iterator[Answer | httpx.Response | Exception] = iter(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = next(self._answers)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def do_client(
    fake: FakeDO, sleeps: Sleeps | None = None, max_retries: int = 4
) -> DigitalOceanClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    return DigitalOceanClient(
        TOKEN,
        client=http,
        sleep=sleeps if sleeps is not None else Sleeps(),
        max_retries=max_retries,
    )


def do_error(status: int, error_id: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"id": error_id, "message": message, "request_id": "4d9d8375-3c56-4925-a3e7"},
        headers=headers,
    )


def ssh_key_json(key_id: int, public_key: str, fingerprint: str) -> dict[str, object]:
    return {"id": key_id, "fingerprint": fingerprint, "public_key": public_key, "name": "timmy"}


def droplet_json(droplet_id: int, status: str, v4: list[dict[str, str]]) -> dict[str, object]:
    return {
        "id": droplet_id,
        "name": "timmy-node-3f2a9c1d",
        "status": status,
        "memory": 4096,
        "networks": {"v4": v4, "v6": []},
        "region": {"slug": "nyc3"},
        "tags": ["timmy"],
    }


def body(request: httpx.Request) -> object:
    return json.loads(request.content)


def assert_authorized(request: httpx.Request) -> None:
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


# --- SSH keys -------------------------------------------------------------------------------


def test_create_ssh_key_posts_name_and_key_and_returns_the_id() -> None:
    pair = generate_ssh_keypair("timmy")
    fake = FakeDO(
        httpx.Response(
            201,
            json={"ssh_key": ssh_key_json(512189, pair.public_key_openssh, pair.fingerprint_md5)},
        )
    )

    key_id = do_client(fake).create_ssh_key("timmy-job-1", pair.public_key_openssh)

    assert key_id == 512189
    [request] = fake.requests
    assert request.method == "POST"
    assert request.url == f"{BASE}/v2/account/keys"
    assert_authorized(request)
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"name": "timmy-job-1", "public_key": pair.public_key_openssh}


def test_create_ssh_key_already_on_the_account_adopts_the_same_key() -> None:
    # Given an earlier attempt uploaded the key but its answer was lost
    pair = generate_ssh_keypair("timmy")
    existing = ssh_key_json(777, pair.public_key_openssh, pair.fingerprint_md5)
    fake = FakeDO(
        do_error(422, "unprocessable_entity", "SSH Key is already in use on your account"),
        httpx.Response(200, json={"ssh_key": existing}),
    )

    # When it is created again
    key_id = do_client(fake).create_ssh_key("timmy-job-1", pair.public_key_openssh)

    # Then the existing key is found by its MD5 fingerprint and reused
    assert key_id == 777
    lookup = fake.requests[1]
    assert lookup.method == "GET"
    assert lookup.url.path == f"/v2/account/keys/{pair.fingerprint_md5}"
    assert_authorized(lookup)


def test_create_ssh_key_422_for_another_reason_fails_with_dos_message() -> None:
    pair = generate_ssh_keypair("timmy")
    fake = FakeDO(
        do_error(422, "unprocessable_entity", "Key invalid, type not supported"),
        do_error(404, "not_found", "The resource you were accessing could not be found."),
    )

    with pytest.raises(ProvisioningFailed, match="Key invalid, type not supported") as raised:
        do_client(fake).create_ssh_key("timmy-job-1", pair.public_key_openssh)

    assert raised.value.upstream_status == 422
    assert raised.value.upstream_id == "unprocessable_entity"


def test_create_ssh_key_never_adopts_a_different_key_with_a_colliding_lookup() -> None:
    mine, other = generate_ssh_keypair("mine"), generate_ssh_keypair("other")
    fake = FakeDO(
        do_error(422, "unprocessable_entity", "SSH Key is already in use on your account"),
        httpx.Response(
            200, json={"ssh_key": ssh_key_json(9, other.public_key_openssh, mine.fingerprint_md5)}
        ),
    )

    with pytest.raises(ProvisioningFailed):
        do_client(fake).create_ssh_key("timmy", mine.public_key_openssh)


def test_delete_ssh_key_sends_delete_and_accepts_204() -> None:
    fake = FakeDO(httpx.Response(204))

    do_client(fake).delete_ssh_key(512189)

    [request] = fake.requests
    assert request.method == "DELETE"
    assert request.url == f"{BASE}/v2/account/keys/512189"
    assert_authorized(request)


def test_delete_ssh_key_that_is_already_gone_is_fine() -> None:
    fake = FakeDO(do_error(404, "not_found", "The resource you were accessing could not be found."))

    do_client(fake).delete_ssh_key(512189)  # does not raise

    assert len(fake.requests) == 1


# --- droplets -------------------------------------------------------------------------------


def create_droplet(client: DigitalOceanClient, user_data: str = "#!/bin/bash\necho hi\n") -> int:
    return client.create_droplet(
        name="timmy-node-3f2a9c1d",
        region="nyc3",
        size="s-2vcpu-4gb",
        image="ubuntu-24-04-x64",
        ssh_key_ids=[512189],
        user_data=user_data,
        tags=["timmy", "timmy-job-3f2a9c1d"],
    )


def test_create_droplet_posts_the_full_spec_and_returns_the_id_from_202() -> None:
    fake = FakeDO(httpx.Response(202, json={"droplet": droplet_json(3164444, "new", [])}))

    droplet_id = create_droplet(do_client(fake))

    assert droplet_id == 3164444
    [request] = fake.requests
    assert request.method == "POST"
    assert request.url == f"{BASE}/v2/droplets"
    assert_authorized(request)
    assert body(request) == {
        "name": "timmy-node-3f2a9c1d",
        "region": "nyc3",
        "size": "s-2vcpu-4gb",
        "image": "ubuntu-24-04-x64",
        "ssh_keys": [512189],
        "user_data": "#!/bin/bash\necho hi\n",
        "tags": ["timmy", "timmy-job-3f2a9c1d"],
    }


def test_create_droplet_422_is_a_final_failure_carrying_dos_message() -> None:
    fake = FakeDO(do_error(422, "unprocessable_entity", "Region is not available"))
    sleeps = Sleeps()

    with pytest.raises(ProvisioningFailed) as raised:
        create_droplet(do_client(fake, sleeps))

    error = raised.value
    assert isinstance(error, UpstreamBadGateway)
    assert error.status == 502
    assert error.code == "provisioning_failed"
    assert error.retryable is False
    assert "Region is not available" in error.message
    assert "422" in error.message
    assert len(fake.requests) == 1
    assert sleeps == []


def test_oversize_user_data_is_refused_before_calling_digitalocean() -> None:
    fake = FakeDO()

    with pytest.raises(UserDataTooLarge):
        create_droplet(do_client(fake), user_data="#" * (USER_DATA_MAX_BYTES + 1))

    assert fake.requests == []


def test_get_droplet_reads_status_and_public_and_private_addresses() -> None:
    v4 = [
        {
            "ip_address": "10.128.192.124",
            "netmask": "255.255.0.0",
            "gateway": "",
            "type": "private",
        },
        {
            "ip_address": "104.236.32.182",
            "netmask": "255.255.192.0",
            "gateway": "104.236.0.1",
            "type": "public",
        },
    ]
    fake = FakeDO(httpx.Response(200, json={"droplet": droplet_json(3164444, "active", v4)}))

    droplet = do_client(fake).get_droplet(3164444)

    assert droplet == Droplet(
        id=3164444, status="active", public_ipv4="104.236.32.182", private_ipv4="10.128.192.124"
    )
    [request] = fake.requests
    assert request.method == "GET"
    assert request.url == f"{BASE}/v2/droplets/3164444"
    assert_authorized(request)


def test_a_new_droplet_has_no_addresses_yet() -> None:
    fake = FakeDO(httpx.Response(200, json={"droplet": droplet_json(3164444, "new", [])}))

    droplet = do_client(fake).get_droplet(3164444)

    assert droplet.status == "new"
    assert droplet.public_ipv4 is None
    assert droplet.private_ipv4 is None


def test_get_droplet_404_is_a_failure() -> None:
    fake = FakeDO(do_error(404, "not_found", "The resource you were accessing could not be found."))

    with pytest.raises(ProvisioningFailed, match="could not be found") as raised:
        do_client(fake).get_droplet(1)

    assert raised.value.upstream_status == 404


def test_list_droplets_by_tag_queries_the_tag() -> None:
    fake = FakeDO(
        httpx.Response(
            200,
            json={
                "droplets": [droplet_json(11, "active", []), droplet_json(12, "new", [])],
                "links": {},
                "meta": {"total": 2},
            },
        )
    )

    droplets = do_client(fake).list_droplets_by_tag("timmy-job-3f2a9c1d")

    assert [d.id for d in droplets] == [11, 12]
    [request] = fake.requests
    assert request.method == "GET"
    assert request.url.path == "/v2/droplets"
    assert request.url.params["tag_name"] == "timmy-job-3f2a9c1d"
    assert_authorized(request)


def test_delete_droplet_sends_delete_and_accepts_204() -> None:
    fake = FakeDO(httpx.Response(204))

    do_client(fake).delete_droplet(3164444)

    [request] = fake.requests
    assert request.method == "DELETE"
    assert request.url == f"{BASE}/v2/droplets/3164444"
    assert_authorized(request)


def test_delete_droplet_that_is_already_gone_is_fine() -> None:
    fake = FakeDO(do_error(404, "not_found", "The resource you were accessing could not be found."))

    do_client(fake).delete_droplet(3164444)  # does not raise


def test_delete_droplet_403_is_a_failure() -> None:
    fake = FakeDO(do_error(403, "forbidden", "You do not have access for the attempted action."))

    with pytest.raises(ProvisioningFailed, match="do not have access"):
        do_client(fake).delete_droplet(3164444)


# --- retries --------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds() -> None:
    # Given DigitalOcean rate-limits once, asking for 7 seconds
    fake = FakeDO(
        do_error(429, "too_many_requests", "API Rate limit exceeded.", **{"retry-after": "7"}),
        httpx.Response(202, json={"droplet": droplet_json(42, "new", [])}),
    )
    sleeps = Sleeps()

    # When a droplet is created
    droplet_id = create_droplet(do_client(fake, sleeps))

    # Then the client waited exactly as told and sent the same request again
    assert droplet_id == 42
    assert sleeps == [7.0]
    assert len(fake.requests) == 2
    assert body(fake.requests[0]) == body(fake.requests[1])
    assert_authorized(fake.requests[1])


def test_retry_after_is_capped() -> None:
    fake = FakeDO(
        do_error(429, "too_many_requests", "API Rate limit exceeded.", **{"retry-after": "3600"}),
        httpx.Response(204),
    )
    sleeps = Sleeps()

    do_client(fake, sleeps).delete_droplet(1)

    assert sleeps == [30.0]


def test_retry_after_as_an_http_date_is_understood() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    fake = FakeDO(
        do_error(429, "too_many_requests", "API Rate limit exceeded.", **{"retry-after": when}),
        httpx.Response(204),
    )
    sleeps = Sleeps()

    do_client(fake, sleeps).delete_droplet(1)

    assert len(sleeps) == 1
    assert 15.0 <= sleeps[0] <= 20.0


def test_429_without_retry_after_uses_backoff() -> None:
    fake = FakeDO(
        do_error(429, "too_many_requests", "API Rate limit exceeded."), httpx.Response(204)
    )
    sleeps = Sleeps()

    do_client(fake, sleeps).delete_droplet(1)

    assert sleeps == [0.5]


def test_5xx_exhausted_raises_provisioning_unavailable_after_exponential_backoff() -> None:
    fake = FakeDO(*[do_error(503, "service_unavailable", "try later") for _ in range(5)])
    sleeps = Sleeps()

    with pytest.raises(ProvisioningUnavailable) as raised:
        do_client(fake, sleeps, max_retries=4).get_droplet(1)

    error = raised.value
    assert isinstance(error, UpstreamUnavailable)
    assert error.status == 503
    assert error.code == "provisioner_unavailable"
    assert error.retryable is True
    assert "HTTP 503" in error.message
    assert "5 attempts" in error.message
    assert len(fake.requests) == 5
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_5xx_then_success_recovers() -> None:
    fake = FakeDO(
        do_error(500, "server_error", "Server Error"),
        do_error(502, "bad_gateway", "Bad Gateway"),
        httpx.Response(200, json={"droplet": droplet_json(5, "active", [])}),
    )
    sleeps = Sleeps()

    assert do_client(fake, sleeps).get_droplet(5).status == "active"
    assert sleeps == [0.5, 1.0]


def test_connect_errors_are_retried_even_for_creates() -> None:
    # A connection that never opened cannot have created anything.
    fake = FakeDO(
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.Response(202, json={"droplet": droplet_json(8, "new", [])}),
    )
    sleeps = Sleeps()

    assert create_droplet(do_client(fake, sleeps)) == 8
    assert len(fake.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_read_timeouts_are_retried_for_reads() -> None:
    fake = FakeDO(
        httpx.ReadTimeout("read timed out"),
        httpx.Response(200, json={"droplet": droplet_json(5, "active", [])}),
    )

    assert do_client(fake).get_droplet(5).id == 5
    assert len(fake.requests) == 2


def test_a_lost_answer_to_create_droplet_is_not_repeated() -> None:
    # Given the create request was sent but its answer never came
    fake = FakeDO(httpx.ReadTimeout("read timed out"))

    # Then the client does not risk buying a second droplet
    with pytest.raises(ProvisioningOutcomeUnknown) as raised:
        create_droplet(do_client(fake))

    assert len(fake.requests) == 1
    assert isinstance(raised.value, ProvisioningUnavailable)
    assert raised.value.code == "provisioner_outcome_unknown"


def test_a_5xx_to_create_droplet_is_not_repeated() -> None:
    # DigitalOcean may have accepted the droplet before failing to answer
    fake = FakeDO(do_error(500, "server_error", "Server was unable to give you a response."))

    with pytest.raises(ProvisioningOutcomeUnknown, match="HTTP 500"):
        create_droplet(do_client(fake))

    assert len(fake.requests) == 1


def test_network_errors_exhausted_raise_provisioning_unavailable() -> None:
    fake = FakeDO(*[httpx.ConnectError("no route to host") for _ in range(3)])

    with pytest.raises(ProvisioningUnavailable, match="3 attempts"):
        do_client(fake, max_retries=2).delete_droplet(1)


def test_create_ssh_key_is_retried_after_a_lost_answer_and_then_adopts_the_key() -> None:
    pair = generate_ssh_keypair("timmy")
    existing = ssh_key_json(31, pair.public_key_openssh, pair.fingerprint_md5)
    fake = FakeDO(
        httpx.ReadTimeout("read timed out"),
        do_error(422, "unprocessable_entity", "SSH Key is already in use on your account"),
        httpx.Response(200, json={"ssh_key": existing}),
    )

    assert do_client(fake).create_ssh_key("timmy", pair.public_key_openssh) == 31


# --- secrets and odd answers ----------------------------------------------------------------


def test_the_token_never_appears_in_errors_even_if_echoed_back() -> None:
    fake = FakeDO(do_error(401, "unauthorized", f"Unable to authenticate you ({TOKEN})"))

    with pytest.raises(ProvisioningFailed) as raised:
        do_client(fake).get_droplet(1)

    assert TOKEN not in str(raised.value)
    assert TOKEN not in raised.value.message
    assert "Unable to authenticate you" in raised.value.message


def test_the_token_never_appears_in_unavailable_errors() -> None:
    fake = FakeDO(*[httpx.ConnectError(f"failed for {TOKEN}") for _ in range(2)])

    with pytest.raises(ProvisioningUnavailable) as raised:
        do_client(fake, max_retries=1).get_droplet(1)

    assert TOKEN not in str(raised.value)
    assert raised.value.__cause__ is None


def test_client_repr_hides_the_token() -> None:
    assert TOKEN not in repr(do_client(FakeDO()))


def test_a_success_without_the_expected_body_is_a_failure() -> None:
    fake = FakeDO(httpx.Response(201, json={"unexpected": True}))

    with pytest.raises(ProvisioningFailed, match="unexpected shape"):
        do_client(fake).create_ssh_key("timmy", generate_ssh_keypair("x").public_key_openssh)


def test_a_non_json_error_still_gives_a_clear_failure() -> None:
    fake = FakeDO(httpx.Response(400, text="<html>bad request</html>"))

    with pytest.raises(ProvisioningFailed, match=r"HTTP 400"):
        do_client(fake).delete_droplet(1)


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="token"):
        DigitalOceanClient("")


def test_an_injected_http_client_is_not_closed_by_the_do_client() -> None:
    http = httpx.Client(transport=httpx.MockTransport(FakeDO()))

    with DigitalOceanClient(TOKEN, client=http):
        pass

    assert not http.is_closed
