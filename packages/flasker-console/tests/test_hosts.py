"""_hosts: which Host headers the standalone console answers (loopback names, and the site's
configured names when behind sign-in), and the refusal the others get."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.sansio.utils import host_is_trusted
from werkzeug.test import Client
from werkzeug.wrappers import Response

from flasker_console._hosts import guard_hosts, is_answered


def hello(environ: Any, start_response: Any) -> Any:
    return Response("hello")(environ, start_response)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:5050", "127.0.0.2:5050", "localhost", "LOCALHOST:80", "[::1]:5050"]
)
def test_loopback_names_are_answered(host: str) -> None:
    assert is_answered(host)
    assert Client(guard_hosts(hello)).get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "localhost.evil.example", "127.0.0.1.evil.example", "[::2]"]
)
def test_other_names_are_refused_with_the_names_answered(host: str) -> None:
    assert not is_answered(host)
    response = Client(guard_hosts(hello)).get("/", headers={"Host": host})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "this console answers only to 127.0.0.1, localhost, [::1]" in text
    assert "hello" not in text


def test_configured_names_match_as_trusted_hosts_do() -> None:
    trusted = ["console.example.com", ".ops.example"]
    assert is_answered("console.example.com", trusted)
    assert is_answered("a.ops.example:443", trusted)
    assert not is_answered("console.example.com.evil.example", trusted)
    refused = Client(guard_hosts(hello, trusted)).get("/", headers={"Host": "evil.example"})
    assert "console.example.com, .ops.example" in refused.get_data(as_text=True)


def test_flasks_trusted_hosts_cannot_name_ipv6_loopback() -> None:
    """Why the guard is not Flask's TRUSTED_HOSTS alone: werkzeug's matcher never trusts a
    bracketed IPv6 Host, however it is listed (nor a whole 127.0.0.0/8). If this fails,
    werkzeug learnt it, and the standalone console could set TRUSTED_HOSTS instead."""
    assert not host_is_trusted("[::1]:5050", ["[::1]", "::1"])
