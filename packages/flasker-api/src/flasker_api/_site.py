"""The APIManager as the modules below it see it: a Protocol of what they read, and its hooks.

`manager.py` registers the routes (routes.py), whose views and the OpenAPI document read the
manager back: its options, models, hooks and project. Typing them against `APISite` instead of
importing `APIManager` keeps the imports one way: the manager imports them, never the reverse.
`APIManager` satisfies the Protocol structurally (mypy checks it where the manager hands itself
down).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .exceptions import APISetupError

if TYPE_CHECKING:
    from flask import Blueprint

    from flasker.project import Project

    from .model_info import ModelInfo, RelationInfo
    from .options import APIOptions

#: `authorize(endpoint, method, model)`: False (or raising ApiProblem) refuses with 403.
#: `endpoint` is one of index, openapi, docs, collection, item, relation, position; `model` is
#: None for index, openapi and docs.
Authorizer = Callable[[str, str, "type | None"], bool | None]
#: `validate(model, payload)`: messages (a list, or field → message) refuse with 422.
Validator = Callable[[type, dict[str, Any]], "list[str] | dict[str, str] | str | None"]


class APISite(Protocol):
    """What the views, the docs page and the OpenAPI document ask of the APIManager."""

    name: str
    options: APIOptions
    project: Project | None
    blueprint: Blueprint | None
    authorizers: list[Authorizer]
    validators: list[Validator]

    @property
    def models(self) -> dict[str, ModelInfo]: ...

    def info_for(self, model: type) -> ModelInfo | None: ...


def project_of(site: APISite) -> Project:
    """The project the API serves; an error naming the cause when the API has none yet (its
    routes exist only once `on_start` gave it one, so a view never sees this)."""
    project = site.project
    if project is None:
        raise APISetupError(
            f"the API {site.name!r} has no project: register it with "
            "project.register_manager(APIManager(...)) before serving requests"
        )
    return project


def target_of(site: APISite, relation: RelationInfo) -> ModelInfo:
    """The `ModelInfo` a relation leads to. The manager drops relations to models it does not
    expose, so a missing target is a manager bug, named here rather than failing later."""
    target = site.info_for(relation.target)
    if target is None:
        raise APISetupError(
            f"relation {relation.name!r} leads to {relation.target.__name__}, which the API "
            "does not expose (the manager should have dropped the relation)"
        )
    return target
