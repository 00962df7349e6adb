"""Asking the manager's `authorize` hooks: a refusal answers 403 naming what was refused.

Every view asks about its own model; a read that nests other models (`include=`, `depth=`)
asks about each of them too, so a refused model cannot be read through another one's
endpoint::

    authorization = Authorization(api)
    authorization.authorize("item", "GET", House)     # ApiProblem(403) when a hook says no
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .problems import ApiProblem

if TYPE_CHECKING:
    from ._site import APISite
    from .model_info import ModelInfo
    from .query import IncludeTree, Selection


class Authorization:
    """The `authorize` hooks of one manager."""

    def __init__(self, site: APISite) -> None:
        self.site = site

    def authorize(self, endpoint: str, method: str, model: type | None) -> None:
        for authorizer in self.site.authorizers:
            if authorizer(endpoint, method, model) is False:
                name = f" on {model.__name__}" if model is not None else ""
                raise ApiProblem(403, f"{method} {endpoint}{name} is not allowed for you")

    def authorize_includes(self, info: ModelInfo, selection: Selection) -> None:
        """Ask the authorize hook about every model an `include` (or `depth`) would nest, so a
        refused model cannot be read through another one's endpoint."""

        def walk(owner: ModelInfo, tree: IncludeTree) -> None:
            for name, subtree in tree:
                relation = owner.relations[name]
                self.authorize("include", "GET", relation.target)
                target = self.site.info_for(relation.target)
                if target is not None:
                    walk(target, subtree)

        walk(info, selection.include)
