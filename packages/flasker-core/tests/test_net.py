"""flasker._net: the one answer to "is this loopback?" (127.0.0.0/8, ::1, localhost, as the
`ipaddress` module says), for addresses and for Host headers, and a free port."""

from __future__ import annotations

import socket

import pytest

from flasker._net import free_port, is_loopback_address, is_loopback_host
from flasker.manager import ServeInfo


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "localhost", "LOCALHOST"]
)
def test_loopback_addresses(address: str) -> None:
    assert is_loopback_address(address)
    assert ServeInfo(address, 5000, debug=False, prod=False).is_loopback


def test_a_zone_does_not_hide_ipv6_loopback() -> None:
    assert is_loopback_address("::1%lo")


@pytest.mark.parametrize(
    "address", ["", None, "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2", "example.com", "lo"]
)
def test_other_addresses(address: str | None) -> None:
    assert not is_loopback_address(address)
    if address is not None:
        assert not ServeInfo(address, 5000, debug=False, prod=False).is_loopback


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:5000", "127.0.0.1:8000", "127.0.0.2:8000", "[::1]", "[::1]:5000"],
)
def test_loopback_host_headers(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        None,
        "evil.example",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "evil.example:80@localhost",
        "[::2]:5000",
        "[::1",
        "::1",  # an IPv6 Host header needs its brackets
    ],
)
def test_other_host_headers(host: str | None) -> None:
    assert not is_loopback_host(host)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
