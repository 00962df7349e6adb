"""What a viewer may not read in the cfg: secrets written in the file.

Viewers read the editor, but a cfg may hold a literal `SECRET_KEY`, a client secret or a
password inside a database URL. Their values are masked for anyone who may not change the cfg
(`${ENV_VAR}` references are shown: they name a variable, not a secret). Which key names
hold secrets, and the mask, are flasker's own (`flasker.introspect`), as `flasker config show`
masks them.
"""

from __future__ import annotations

import re

from flasker.introspect import MASK, SECRET_KEY_PATTERN, mask_url

#: A value that only refers to environment variables (`${VAR}`, `${VAR:-default}` excepted).
ENV_ONLY = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}\s*)+$")


def redact(key: str, value: str) -> str:
    """The value as a viewer sees it."""
    if SECRET_KEY_PATTERN.search(key) and value.strip() and not ENV_ONLY.match(value.strip()):
        return MASK
    return mask_url(value) if "@" in value else value


def is_redacted(key: str, value: str) -> bool:
    return redact(key, value) != value
