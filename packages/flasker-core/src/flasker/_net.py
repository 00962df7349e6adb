"""Small network helpers shared by the server, the extensions and the test helpers.

"Is this loopback?" is answered here once, as the `ipaddress` module answers it: 127.0.0.0/8,
::1 and the name localhost. The server (`ServeInfo.is_loopback`), flasker-auth (the
development link, the callback URL) and the standalone console (which Host names it answers)
all ask these two functions, so they cannot disagree about 127.0.0.2.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that was free a moment ago (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_loopback_address(address: str | None) -> bool:
    """Is `address` (an IP address or the name localhost) one only this machine reaches?

    127.0.0.0/8 and ::1 (with or without a `%zone`, as `remote_addr` may carry one) and
    "localhost"; any other name, an empty value or None is not.
    """
    if not address:
        return False
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str | None) -> bool:
    """Is a Host header (`name[:port]`, `[::1]:5050`) addressed to a loopback name?

    Look-alikes are not: `localhost.evil.example`, `127.0.0.1.evil.example`, and a header
    with user info (`evil.example:80@localhost`) or that does not parse.
    """
    if not host or "@" in host:
        return False
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return False
    return is_loopback_address(name)
