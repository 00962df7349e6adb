"""`APIManager`: which models the API exposes, its options and hooks, and its blueprint.

The manager collects declarations while the project's modules are imported (`add_model`,
`@api.authorize`, `@api.validate`, `@api.property`) and builds everything at `on_start`, when
every model exists: one `ModelInfo` per model, then the routes. Nothing is introspected per
request::

    from flasker import current_project
    from flasker_api import APIManager

    api = current_project.register_manager(APIManager(add_all_models=True))

    @api.authorize
    def may(endpoint: str, method: str, model: type | None) -> bool:
        return method == "GET" or current_user.is_admin

Options come from keyword arguments, else the `[API]` cfg section, else the defaults of
`flasker_api.settings.API_SECTION`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

from flasker.manager import Manager

from ._site import Authorizer, Validator
from .exceptions import APISetupError
from .model_info import (
    ALL_METHODS,
    PROPERTY_MARK,
    ModelInfo,
    PropertyOptions,
    api_property,
    build_model_info,
    collection_name,
)
from .options import APIOptions
from .settings import API_SECTION

if TYPE_CHECKING:
    from flask import Blueprint

    from flasker.project import Project

__all__ = ["APIManager", "APIOptions", "Authorizer", "Validator"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def _with_model_argument(function: Callable[..., Any]) -> Authorizer:
    """`function` as an `Authorizer`: a two-argument (flasker 0.1) hook is called without the
    model; anything else (three parameters, *args, a signature Python cannot read) as it is."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return function
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return function
    if len([p for p in parameters if p.kind in positional]) != 2:
        return function

    def authorize(endpoint: str, method: str, _model: type | None) -> bool | None:
        answer: bool | None = function(endpoint, method)
        return answer

    return authorize


@dataclass
class _Declaration:
    model: type
    methods: Sequence[str] | None
    relationships: Sequence[str] | None
    exclude: Sequence[str]
    collection: str | None


class APIManager(Manager):
    """REST endpoints generated from the project's models (flasker 0.1's `APIManager`).

    `add_all_models=True` exposes every mapped model but those declaring `__api__ = False`;
    otherwise call `add_model`. Keyword
    arguments override the `[API]` cfg section: `url_prefix`, `default_depth`, `max_depth`,
    `default_limit`, `max_limit`, `read_only`, `methods` (collection → methods), `count`.
    """

    config_section = "API"

    def __init__(
        self,
        add_all_models: bool | None = None,
        *,
        url_prefix: str | None = None,
        default_depth: int | None = None,
        max_depth: int | None = None,
        default_limit: int | None = None,
        max_limit: int | None = None,
        read_only: bool | None = None,
        methods: Mapping[str, Sequence[str]] | None = None,
        count: str | None = None,
        name: str = "api",
    ) -> None:
        self.name = name
        self._overrides: dict[str, Any] = {
            key: value
            for key, value in {
                "add_all_models": add_all_models,
                "url_prefix": url_prefix,
                "default_depth": default_depth,
                "max_depth": max_depth,
                "default_limit": default_limit,
                "max_limit": max_limit,
                "read_only": read_only,
                "methods": methods,
                "count": count,
            }.items()
            if value is not None
        }
        self.options = APIOptions(**self._overrides)
        self.project: Project | None = None
        self.blueprint: Blueprint | None = None
        self.authorizers: list[Authorizer] = []
        self.validators: list[Validator] = []
        self._declarations: dict[type, _Declaration] = {}
        self._extra_properties: dict[
            type, list[tuple[str, Callable[..., Any], PropertyOptions]]
        ] = {}
        self._infos: dict[str, ModelInfo] | None = None
        self._by_model: dict[type, ModelInfo] = {}
        self.is_started = False

    def __repr__(self) -> str:
        return f"<APIManager {self.options.url_prefix or '/'}>"

    # -- declarations -------------------------------------------------------------------------
    def add_model(
        self,
        model: type,
        methods: Iterable[str] | None = None,
        relationships: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        collection: str | None = None,
    ) -> None:
        """Expose `model`: `methods` (default all, or GET when read-only), `relationships`
        (default every one whose target is exposed), `exclude` (attribute names never shown)."""
        if self.is_started:
            raise APISetupError(
                f"add_model({model.__name__}) after the project started: add models in a module "
                "listed in [PROJECT] MODULES"
            )
        self._declarations[model] = _Declaration(
            model,
            None if methods is None else [m.upper() for m in methods],
            None if relationships is None else list(relationships),
            list(exclude),
            collection,
        )
        self._infos = None

    def add_all_models(self) -> None:
        """Expose every mapped model that was not added explicitly (flasker 0.1's method)."""
        self._overrides["add_all_models"] = True
        self.options = replace(self.options, add_all_models=True)

    def authorize(self, function: F) -> F:
        """Decorator: `function(endpoint, method, model)` returning False refuses with 403.

        flasker 0.1's hooks took `(endpoint, method)`; such a function is called without the
        model, so a 0.1 project's hook keeps working instead of failing every request."""
        self.authorizers.append(_with_model_argument(function))
        return function

    def validate(self, function: F) -> F:
        """Decorator: `function(model, payload)` returning messages refuses with 422."""
        self.validators.append(function)
        return function

    # -- what was built -----------------------------------------------------------------------
    @property
    def models(self) -> dict[str, ModelInfo]:
        """Every exposed model by collection name (built on first use, after mappers exist)."""
        if self._infos is None:
            self._infos = self._build_infos()
        return self._infos

    def info_for(self, model: type) -> ModelInfo | None:
        """The `ModelInfo` of a model class, or None when the API does not expose it."""
        self.models  # noqa: B018 - builds the infos
        return self._by_model.get(model)

    @property
    def url_prefix(self) -> str:
        return self.options.url_prefix

    # -- the Manager protocol -----------------------------------------------------------------
    def init_project(self, project: Project) -> None:
        self.project = project
        section = dict(project.config.section(API_SECTION.name))
        if section.get("EXPAND"):
            raise project.config.error(
                API_SECTION.name,
                "EXPAND",
                "flasker 0.1's EXPAND = true (repeat an entity each time it is nested) is not "
                "supported: every entity is written once per response, a repeat as its key "
                "(EXPAND = false); remove the key, and use include= or depth= to nest",
            )
        resolved: dict[str, Any] = {}
        for option in fields(APIOptions):
            key = option.name.upper()
            if key in section and section[key] is not None:
                resolved[option.name] = section[key]
        resolved.update(self._overrides)
        self.options = APIOptions(**resolved)

    def on_start(self, project: Project) -> None:
        from flask import Blueprint

        from .routes import register_routes

        self.project = project
        self._infos = self._build_infos()
        blueprint = Blueprint(self.name, __name__, url_prefix=self.options.url_prefix or None)
        register_routes(self, blueprint)
        project.app.register_blueprint(blueprint)
        self.blueprint = blueprint
        self.is_started = True
        logger.debug("API at %s/: %s", self.options.url_prefix, ", ".join(self._infos))

    # -- building -----------------------------------------------------------------------------
    def _build_infos(self) -> dict[str, ModelInfo]:
        from sqlalchemy.orm import configure_mappers

        from flasker.model import Model

        configure_mappers()
        declarations = dict(self._declarations)
        if self.options.add_all_models:
            for mapper in sorted(Model.registry.mappers, key=lambda m: m.class_.__name__):
                model = mapper.class_
                if (
                    model not in declarations
                    and not getattr(model, "__abstract__", False)
                    # a model may keep itself out of add_all_models (flasker-auth's users and
                    # token hashes do); add_model still exposes it when asked by name
                    and getattr(model, "__api__", True) is not False
                ):
                    declarations[model] = _Declaration(model, None, None, [], None)
        infos: dict[str, ModelInfo] = {}
        for model, declaration in declarations.items():
            info = self._build_info(declaration)
            if info.collection in infos:
                other = infos[info.collection].model.__name__
                raise APISetupError(
                    f"{model.__name__} and {other} both map to the collection "
                    f"{info.collection!r}: pass collection= to add_model for one of them"
                )
            infos[info.collection] = info
        # relations to models the API does not expose are not shown
        exposed = {info.model for info in infos.values()}
        for key, info in list(infos.items()):
            kept = {n: r for n, r in info.relations.items() if r.target in exposed}
            if len(kept) != len(info.relations):
                infos[key] = info = replace(info, relations=kept)
            for prop in info.properties.values():
                for load in prop.loads:
                    if load.split(".")[0] not in info.mapper.relationships:
                        raise APISetupError(f"{info.name}.{prop.name}: cannot load {load!r}")
        self._by_model = {info.model: info for info in infos.values()}
        return infos

    def _build_info(self, declaration: _Declaration) -> ModelInfo:
        model = declaration.model
        collection = declaration.collection or collection_name(model)
        methods: Iterable[str]
        if declaration.methods is not None:
            methods = declaration.methods
        elif collection in self.options.methods:
            methods = [m.upper() for m in self.options.methods[collection]]
        else:
            methods = ALL_METHODS
        if self.options.read_only:
            methods = [m for m in methods if m == "GET"]
        unknown = set(methods) - set(ALL_METHODS)
        if unknown:
            raise APISetupError(
                f"{model.__name__}: unknown method(s) {', '.join(sorted(unknown))} "
                f"(allowed: {', '.join(ALL_METHODS)})"
            )
        try:
            return build_model_info(
                model,
                collection=collection,
                methods=methods,
                relationships=declaration.relationships,
                exclude=declaration.exclude,
                extra_properties=self._extra_properties.get(model, ()),
            )
        except ValueError as error:
            raise APISetupError(str(error)) from None

    # Defined last: inside the class body, `property` means this method from here on.
    def property(
        self,
        loads: Iterable[str] = (),
        *,
        count: str | None = None,
        expression: Callable[[], Any] | None = None,
        model: type | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> Callable[[F], F]:
        """Declare a read-only property shown in responses: the relations Python reads to
        compute it (`loads=`, one extra query per page), or how the database computes it
        (`count=` a to-many relation, or an SQL `expression=`; no extra query, no entity).

        Under `@property` in a model, it marks the getter. With `model=`, it adds a computed
        property to a model from outside (and sets it on the class, if the name is free)::

            @api.property(count="cats", model=House)
            def cat_count(house: House) -> int:
                return len(house.cats)  # Python's value, outside the API
        """
        if model is None:
            return api_property(loads, description, count=count, expression=expression)

        def register(function: F) -> F:
            key = name or function.__name__
            api_property(loads, description, count=count, expression=expression)(function)
            options = getattr(function, PROPERTY_MARK)
            self._extra_properties.setdefault(model, []).append((key, function, options))
            if not hasattr(model, key):
                setattr(model, key, property(function))
            self._infos = None
            return function

        return register
