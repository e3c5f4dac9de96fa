"""Stub DigitalOcean/Tailscale: same interface as the real clients, plausible, offline answers."""

from __future__ import annotations

import inspect
import ipaddress
import re

import httpx
import pytest

from timmy.provisioning.cloudinit import USER_DATA_MAX_BYTES, UserDataTooLarge, build_cloud_init
from timmy.provisioning.digitalocean import DigitalOceanApi, DigitalOceanClient
from timmy.provisioning.errors import ProvisioningFailed
from timmy.provisioning.sshkeys import generate_ssh_keypair
from timmy.provisioning.stub import (
    StubDigitalOcean,
    StubTailscale,
    stub_node_ip,
    stub_tailnet_hostname,
)
from timmy.provisioning.tailscale import TailscaleApi, TailscaleClient

DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
JOB_IDS = [f"3f2a9c1d-0000-4000-8000-{i:012x}" for i in range(300)]


def in_documentation_range(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in net for net in DOC_NETS) and int(ip) & 0xFF not in (0, 255)


def protocol_methods(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    ]


def create_droplet(do: DigitalOceanApi, name: str = "timmy-node-3f2a9c1d") -> int:
    return do.create_droplet(
        name=name,
        region="nyc3",
        size="s-2vcpu-4gb",
        image="ubuntu-24-04-x64",
        ssh_key_ids=[1],
        user_data="#!/bin/bash\n",
        tags=["timmy"],
    )


# --- addresses and names --------------------------------------------------------------------


def test_stub_node_ip_is_always_a_usable_documentation_address() -> None:
    for job_id in JOB_IDS:
        assert in_documentation_range(stub_node_ip(job_id)), job_id


def test_stub_node_ip_is_deterministic_and_spread_over_all_three_ranges() -> None:
    addresses = [stub_node_ip(job_id) for job_id in JOB_IDS]

    assert addresses == [stub_node_ip(job_id) for job_id in JOB_IDS]
    assert len(set(addresses)) > 200  # few collisions among 300 jobs
    used = {net for a in addresses for net in DOC_NETS if ipaddress.ip_address(a) in net}
    assert used == set(DOC_NETS)


def test_stub_tailnet_hostname_names_the_node_of_the_job() -> None:
    name = stub_tailnet_hostname("3f2a9c1d-1111-2222-3333-444455556666")

    assert name == "timmy-node-3f2a9c1d.tail-stub.ts.net"
    assert stub_tailnet_hostname("other-job-id-42") != name
    assert re.fullmatch(r"timmy-node-[a-z0-9]{8}\.tail-stub\.ts\.net", stub_tailnet_hostname("x"))


# --- same interface as the real clients -----------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "real", "stub"),
    [
        (DigitalOceanApi, DigitalOceanClient, StubDigitalOcean),
        (TailscaleApi, TailscaleClient, StubTailscale),
    ],
)
def test_stub_and_real_client_have_identical_method_signatures(
    protocol: type, real: type, stub: type
) -> None:
    methods = protocol_methods(protocol)
    assert methods, "protocol lists no methods"
    for name in methods:
        expected = inspect.signature(getattr(protocol, name))
        assert inspect.signature(getattr(real, name)) == expected, f"real {name}"
        assert inspect.signature(getattr(stub, name)) == expected, f"stub {name}"


# --- StubDigitalOcean -----------------------------------------------------------------------


def test_ssh_key_ids_are_plausible_and_stable_per_key() -> None:
    first, second = generate_ssh_keypair("a"), generate_ssh_keypair("b")
    do = StubDigitalOcean()

    first_id = do.create_ssh_key("timmy", first.public_key_openssh)

    assert 10_000_000 <= first_id < 1_000_000_000
    assert StubDigitalOcean().create_ssh_key("timmy", first.public_key_openssh) == first_id
    assert do.create_ssh_key("timmy", second.public_key_openssh) != first_id


def test_droplet_is_active_at_once_with_a_stub_public_address() -> None:
    do = StubDigitalOcean()

    droplet = do.get_droplet(create_droplet(do))

    assert droplet.status == "active"
    assert droplet.public_ipv4 is not None
    assert in_documentation_range(droplet.public_ipv4)
    assert droplet.private_ipv4 is not None
    assert ipaddress.ip_address(droplet.private_ipv4).is_private


def test_a_later_step_with_a_fresh_stub_sees_the_same_droplet() -> None:
    # Given a droplet created in one Lambda invocation
    droplet_id = create_droplet(StubDigitalOcean())

    # When another invocation (a new stub object, no shared memory) polls it
    polled = StubDigitalOcean().get_droplet(droplet_id)

    # Then it answers the same way as the creating invocation would
    assert polled == StubDigitalOcean().get_droplet(droplet_id)
    assert polled.id == droplet_id
    assert polled.status == "active"


def test_different_droplets_get_different_ids() -> None:
    do = StubDigitalOcean()

    assert create_droplet(do, "timmy-node-aaaaaaaa") != create_droplet(do, "timmy-node-bbbbbbbb")


def test_a_deleted_droplet_is_gone_for_the_rest_of_the_call() -> None:
    do = StubDigitalOcean()
    droplet_id = create_droplet(do)

    do.delete_droplet(droplet_id)
    do.delete_droplet(droplet_id)  # deleting twice is fine, like a 404 on the real API

    with pytest.raises(ProvisioningFailed) as raised:
        do.get_droplet(droplet_id)
    assert raised.value.upstream_status == 404


def test_stub_refuses_oversize_user_data_like_digitalocean() -> None:
    with pytest.raises(UserDataTooLarge):
        StubDigitalOcean().create_droplet(
            name="n",
            region="nyc3",
            size="s-1vcpu-1gb",
            image="ubuntu-24-04-x64",
            ssh_key_ids=[],
            user_data="#" * (USER_DATA_MAX_BYTES + 1),
            tags=[],
        )


def test_stub_finds_no_earlier_droplets_by_tag() -> None:
    assert StubDigitalOcean().list_droplets_by_tag("timmy-job-x") == []


# --- StubTailscale --------------------------------------------------------------------------


def test_stub_auth_key_is_fresh_obviously_fake_and_usable_by_cloud_init() -> None:
    ts = StubTailscale()

    first = ts.create_auth_key(description="d", tags=["tag:timmy-node"], expiry_seconds=3600)
    second = ts.create_auth_key(description="d", tags=["tag:timmy-node"], expiry_seconds=3600)

    assert first != second
    assert first.startswith("tskey-auth-stub")
    script = build_cloud_init(tailscale_auth_key=first, hostname="timmy-node-3f2a9c1d")
    assert script.count(first) == 1


def test_stub_tailscale_validates_like_the_real_client() -> None:
    with pytest.raises(ValueError, match="tag:name"):
        StubTailscale().create_auth_key(description="d", tags=["nope"], expiry_seconds=60)


# --- the workflow runs unchanged, offline ---------------------------------------------------


def test_a_whole_provisioning_run_works_against_the_stubs_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*_: object, **__: object) -> httpx.Response:
        raise AssertionError("the stubs must not touch the network")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    do: DigitalOceanApi = StubDigitalOcean()
    ts: TailscaleApi = StubTailscale()
    job_id = "3f2a9c1d-1111-2222-3333-444455556666"

    # The same sequence the workflow runs in real mode
    pair = generate_ssh_keypair(f"timmy-{job_id}")
    key_id = do.create_ssh_key(f"timmy-{job_id}", pair.public_key_openssh)
    auth_key = ts.create_auth_key(description="timmy node", tags=[], expiry_seconds=3600)
    user_data = build_cloud_init(tailscale_auth_key=auth_key, hostname="timmy-node-3f2a9c1d")
    droplet_id = do.create_droplet(
        name="timmy-node-3f2a9c1d",
        region="nyc3",
        size="s-2vcpu-4gb",
        image="ubuntu-24-04-x64",
        ssh_key_ids=[key_id],
        user_data=user_data,
        tags=["timmy", "timmy-job-3f2a9c1d"],
    )
    droplet = do.get_droplet(droplet_id)
    do.delete_ssh_key(key_id)

    assert droplet.status == "active"
    assert droplet.public_ipv4 is not None
    assert in_documentation_range(droplet.public_ipv4)
