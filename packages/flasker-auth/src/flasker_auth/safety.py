"""What another site may make a signed-in browser do here: go back to a `next`, post a form.

- `safe_next`: where a sign-in may send the browser afterwards. flasker 0.1 redirected to any
  `next`, an open redirect. Only a path on this site passes: it starts with one `/`, has no
  scheme or host, no backslash (browsers read `/\\evil` as `//evil`) and no control character
  (a tab or newline inside `//` is dropped by browsers), nor once percent-decoded
  (`/%2F%2Fevil` is `//evil` to whatever decodes the path before a browser sees it).
- `cross_origin_problem`: whether an unsafe request came from a page of another site (the
  guard refuses it with a 403 even with a valid CSRF token).

Pure functions, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit


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
    decoded = unquote(parts.path)  # what a proxy or server decoding the path once would see
    if decoded.startswith(("//", "/\\")) or any(ord(char) < 0x20 for char in decoded):
        return default
    return target


#: What `Sec-Fetch-Site` says of a request a page of this site sent (or the user typed).
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def cross_origin_problem(
    sec_fetch_site: str | None,
    origin: str | None,
    host: str,
    trusted_origins: Iterable[str] = (),
) -> str | None:
    """Why an unsafe request must be refused as sent by another site, or None.

    A signed-in browser sends its session cookie with a form another site posts to us; the CSRF
    token stops such a request only while the token cannot be read, so browsers' own word is
    checked too (the algorithm of Go's `http.CrossOriginProtection`): an `Origin` listed in
    `trusted_origins` passes; else `Sec-Fetch-Site` (every current browser sends it) must be
    `same-origin` or `none`; without it, `Origin` must name `host`; a request with neither
    header is not a browser's cross-site request, and passes.

    >>> cross_origin_problem("cross-site", "https://evil.example", "houses.example.com")
    'the browser says a page of another site sent it (Sec-Fetch-Site: cross-site)'
    >>> cross_origin_problem(None, "http://localhost:5000", "localhost:5000") is None
    True
    """
    if origin and _origin_key(origin) in {_origin_key(o) for o in trusted_origins}:
        return None
    if sec_fetch_site:
        if sec_fetch_site.strip().lower() in SAME_SITE_FETCHES:
            return None
        fetched = sec_fetch_site[:40]
        return f"the browser says a page of another site sent it (Sec-Fetch-Site: {fetched})"
    if not origin:
        return None
    try:
        netloc = urlsplit(origin.strip()).netloc
    except ValueError:
        netloc = ""
    if origin.strip().lower() == "null" or not netloc or netloc.lower() != host.strip().lower():
        return f"a page of another site sent it (Origin: {origin[:100]})"
    return None


def _origin_key(origin: str) -> str:
    return origin.strip().rstrip("/").lower()
