"""schemathesis over `/api/openapi.json`: generated requests, answers checked against the document.

The standard project of conftest.py (houses and cats with properties, toys with every column
type, clubs and persons with a unique lookup column, memberships with a composite key) is served
in-process through WSGI. For every operation of the document, schemathesis generates requests
that follow the schema (positive) and requests that break it (negative); each answer must be no
server error and must match the document: a documented status, content type, headers and body
schema, and a request that breaks the schema must be refused (4xx).

Every failure is collected (no shrinking, no stop at the first), so one run lists every
request → response that is wrong. Generation is derandomized: the same requests every run.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

#: At least this many requests in one run (the issue asks for 500).
MIN_REQUESTS = 500
#: Examples per operation and generation mode.
EXAMPLES = 6

POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


def _describe(case: Any, response: Any, error: BaseException) -> str:
    """The request (as curl), the answer and what is wrong with it, for the failure list."""
    try:
        request = case.as_curl_command()
    except Exception:
        request = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
    if response is None:
        return f"{request}\n  -> raised {type(error).__name__}: {error}"
    if isinstance(error, FailureGroup):
        what = "; ".join(f"{f.title}: {f.message}" for f in error.exceptions)
    else:
        what = f"{type(error).__name__}: {error}"
    return (
        f"{request}\n  -> {response.status_code} {response.text[:300]}\n"
        f"  !! {what.replace(chr(10), ' ')[:600]}"
    )


def run_operation(
    operation: Any,
    mode: Any,
    checks: list[Any],
    failures: list[str],
    counter: Counter[str],
    path_parameters: dict[str, Any] | None = None,
) -> None:
    """Send EXAMPLES generated requests for `operation` in `mode`, recording failures."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def send(case: Any) -> None:
        counter["requests"] += 1
        response = None
        try:
            response = case.call()
            counter[str(response.status_code)] += 1
            case.validate_response(response, checks=checks)
        except FailureGroup as error:
            failures.append(_describe(case, response, error))
        except Exception as error:
            failures.append(_describe(case, response, error))

    try:
        send()
    except Unsatisfiable:  # nothing to break in this operation (no parameter, no body)
        counter["unsatisfiable"] += 1


def existing_keys(api: Any, operation: Any) -> dict[str, Any] | None:
    """Path parameters naming a seeded entity (and its first related one), so that generated
    queries and bodies reach the handlers instead of a 404."""
    names = [p.name for p in operation.path_parameters]
    if not names:
        return None
    collection = operation.path.removeprefix(api.prefix + "/").split("/")[0]
    rows = api.seed.get(collection) or []
    if not rows:
        return None
    known = {name: rows[0][name] for name in names if name in rows[0]}
    if "position" in names:
        known["position"] = 1
    return known if len(known) == len(names) else None


def test_generated_requests_conform(api: Any) -> None:
    schema = schemathesis.openapi.from_wsgi(f"{api.prefix}/openapi.json", api.app)
    failures: list[str] = []
    counter: Counter[str] = Counter()
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    for operation in operations:
        api.reseed()  # every operation starts from the seed rows
        run_operation(operation, positive, POSITIVE_CHECKS, failures, counter)
        keys = existing_keys(api, operation)
        if keys is not None:
            run_operation(operation, positive, POSITIVE_CHECKS, failures, counter, keys)
        run_operation(operation, negative, NEGATIVE_CHECKS, failures, counter)
    elapsed = time.monotonic() - started
    summary = (
        f"{counter['requests']} requests over {len(operations)} operations in {elapsed:.1f} s; "
        f"statuses {sorted((k, v) for k, v in counter.items() if k.isdigit())}"
    )
    print(summary)
    assert counter["requests"] >= MIN_REQUESTS, summary
    assert not failures, f"{len(failures)} failures ({summary}):\n" + "\n".join(failures)
