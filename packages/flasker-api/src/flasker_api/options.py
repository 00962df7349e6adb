"""`APIOptions`: the API's resolved options, apart from the manager that resolves them.

The manager fills them from keyword arguments, the `[API]` cfg section and the defaults of
`flasker_api.settings.API_SECTION`; the views and the OpenAPI document only read them. Keeping
them here lets those modules type against the options without importing the manager::

    options = APIOptions(url_prefix="/v1", max_limit=100)
    options.url_prefix           # "/v1"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .exceptions import APISetupError


@dataclass(frozen=True)
class APIOptions:
    """The resolved options (keyword argument > `[API]` section > default)."""

    url_prefix: str = "/api"
    add_all_models: bool = False
    default_depth: int = 0
    max_depth: int = 3
    default_limit: int = 20
    max_limit: int = 1000
    read_only: bool = False
    methods: Mapping[str, Sequence[str]] = field(default_factory=dict)
    count: str = "exact"

    def __post_init__(self) -> None:
        prefix = "/" + self.url_prefix.strip("/") if self.url_prefix.strip("/") else ""
        object.__setattr__(self, "url_prefix", prefix)
        if self.count not in ("exact", "none"):
            raise APISetupError(f"count must be 'exact' or 'none', not {self.count!r}")
        for name in ("default_depth", "max_depth", "default_limit", "max_limit"):
            if getattr(self, name) < 0:
                raise APISetupError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.default_depth > self.max_depth:
            raise APISetupError("default_depth is larger than max_depth")
        if self.max_limit and self.default_limit > self.max_limit:
            raise APISetupError("default_limit is larger than max_limit")
