"""What the endpoints page lists, built in the process that runs the project's app.

- Routes: core's `introspect.routes(project)` (rule, endpoint, methods).
- API operations: for each registered flasker-api `APIManager`, its OpenAPI document (the one
  served at `<prefix>/openapi.json`, built by `flasker_api.openapi.build_openapi`): method,
  path, tag (the model's collection), parameters, summary.
- Access: "public" when flasker-auth's own guard would let an anonymous client through
  (`flasker_auth.guard.is_public_endpoint`), "sign-in" otherwise, "open" without flasker-auth.

The mounted console calls `local_listing` in its own request; the standalone console never
imports a project's code, so its subprocess (`python -m flasker_console.introspection CFG`)
calls it there and prints the result as JSON (introspection.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from flasker import introspect

from .access import auth_manager

#: The methods the page lists operations for (and the try-it form offers).
TRY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass
class Listing:
    routes: list[dict[str, Any]] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    api_problem: str | None = None


def _access_of(endpoint: str | None) -> str:
    manager = auth_manager()
    if manager is None:
        return "open"
    from flasker_auth.guard import is_public_endpoint

    return "public" if is_public_endpoint(manager, endpoint) else "sign-in"


def _endpoint_for(path: str, method: str) -> str | None:
    """The endpoint that answers an OpenAPI path (its `{parameters}` filled with a sample)."""
    import re

    sample = re.sub(r"\{[^}]*\}", "1", path)
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(sample, method=method)
    except Exception:
        return None
    return str(endpoint)


def _api_managers(project: Any) -> list[Any]:
    try:
        from flasker_api import APIManager
    except ImportError:
        return []
    return [m for m in project.managers if isinstance(m, APIManager)]


def _parameter_names(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    names = []
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            key = parameter["$ref"].rsplit("/", 1)[-1]
            parameter = components.get("parameters", {}).get(key, {"name": key})
        name = parameter.get("name", "?")
        names.append(f"{{{name}}}" if parameter.get("in") == "path" else name)
    return names


def api_operations(project: Any) -> tuple[list[dict[str, Any]], str | None]:
    rows: list[dict[str, Any]] = []
    problem = None
    for manager in _api_managers(project):
        try:
            from flasker_api.openapi import build_openapi

            document = build_openapi(manager)
        except Exception as error:  # the page still lists the routes
            problem = f"the API's OpenAPI document could not be built ({type(error).__name__})"
            continue
        components = document.get("components", {})
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method.upper() not in TRY_METHODS or not isinstance(operation, dict):
                    continue
                tags = operation.get("tags") or [""]
                rows.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "tag": tags[0],
                        "summary": operation.get("summary", ""),
                        "parameters": _parameter_names(operation, components),
                        "access": _access_of(_endpoint_for(path, method.upper())),
                        "try_path": path if "{" not in path else "",
                    }
                )
    return rows, problem


def local_listing(project: Any) -> Listing:
    """The routes of the project's started app with their access, and the API's operations
    (in a request context of that app)."""
    routes = []
    for row in introspect.routes(project):
        routes.append({**row, "access": _access_of(row["endpoint"])})
    operations, problem = api_operations(project)
    return Listing(routes, operations, problem)
