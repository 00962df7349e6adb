"""`safe_next`: where a sign-in may send the browser afterwards.

flasker 0.1 redirected to any `next`, an open redirect. Only a path on this site passes: it
starts with one `/`, has no scheme or host, no backslash (browsers read `/\\evil` as
`//evil`) and no control character (a tab or newline inside `//` is dropped by browsers).
Pure function, no Flask.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` when it is a path on this site, else `default`.

    >>> safe_next("/houses/?page=2")
    '/houses/?page=2'
    >>> safe_next("//evil.example"), safe_next("https://evil.example"), safe_next("/\\\\evil")
    ('/', '/', '/')
    """
    if not target or not isinstance(target, str):
        return default
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in target):
        return default
    if "\\" in target or not target.startswith("/") or target.startswith("//"):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc:
        return default
    return target
