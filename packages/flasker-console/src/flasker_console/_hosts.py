"""The Host names the standalone console answers to (standalone.py, and its hub behind
sign-in in standalone_auth.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

#: The only names the standalone console answers to (it listens on loopback only).
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def host_name(host: str) -> str | None:
    """The name of a Host header (`name[:port]`, `[::1]:5050`), or None when it is malformed."""
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:
        return None
