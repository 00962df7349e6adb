"""schemathesis over `/api/openapi.json`: generated requests, answers checked against the document.

The standard project of conftest.py (houses and cats with properties, toys with every column
type, clubs and persons with a unique lookup column, memberships with a composite key) is served
in-process through WSGI, on SQLite and on PostgreSQL. Two runs:

- every operation on its own: schemathesis generates requests that follow the schema
  (positive) and requests that break it (negative);
- stateful: scenarios that follow the document's links (POST 201 and GET 200 → read, replace,
  update, delete the entity and its relations, with its key and `ETag`).

Every answer goes through **every** check schemathesis has (`ALL_CHECKS`): no server error, a
documented status, content type, headers and body schema, a request that breaks the schema is
refused (4xx), one that follows it is accepted, a deleted entity is gone and a created one is
there, and so on. Every failure is collected (no shrinking, no stop at the first), so one run
lists every request → response that is wrong. Generation is derandomized: the same requests
every run.

`FLASKER_FUZZ_CASES` sets how many cases each run generates per database (default `CASES`,
small enough for CI); the proof runs use 2,000 or more::

    FLASKER_FUZZ_CASES=2500 uv run pytest packages/flasker-api/tests/test_schemathesis.py -s
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.errors import FailureGroup
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

pytestmark = pytest.mark.slow

#: Generated cases per database and run when FLASKER_FUZZ_CASES is not set (CI's bound).
CASES = 500
#: Stateful scenarios per generated case budget: a scenario is several requests.
CASES_PER_SCENARIO = 10


def fuzz_cases() -> int:
    """Cases per run: FLASKER_FUZZ_CASES, else CASES."""
    return int(os.environ.get("FLASKER_FUZZ_CASES") or CASES)


#: Refusals of schema-valid requests that the API documents (in the parameters' descriptions)
#: but OpenAPI cannot express, by status: a problem+json answer whose every error matches one
#: of these is what a client must expect, so `positive_data_acceptance` lets it through. Any
#: other refusal of a request the document allows is a failure.
DOCUMENTED_REFUSALS: dict[int, list[str]] = {
    400: [
        # parameters that exclude each other (OpenAPI has no inter-parameter rules)
        r"give either include or depth, not both",
        r"give either after or offset, not both",
        # `fields[<type>]` for a type the response does not include
        r"no included type '[^']*' \(types in this response: .*\)",
        # `sort` naming a field twice (`age,-age`)
        r"\w+ appears twice",
    ],
    # If-Match naming another version than the current one
    412: [r'current ETag is ".*"'],
    422: [
        # a relation naming an entity that does not exist (the document cannot know the keys)
        r"no \w+ with key .*",
        # a body key that is not the entity's own (described on the key's property, and on
        # the PUT of a relation that is part of the key)
        r"the key cannot change: it names the entity",
        r"\w+ is part of the key: it names the entity",
    ],
}


#: Query parameters with a schema of their own; every other one (a filter, `or`, `and`,
#: `not.or`, `not.and`, `after`) is a string whose grammar only its description gives, so a 400
#: naming it is documented.
TYPED_PARAMETERS = re.compile(r"fields(\[\w+\])?|include|depth|sort|limit|offset|count")


def is_documented_refusal(response: Any) -> bool:
    """Whether `response` refuses a request with reasons all in DOCUMENTED_REFUSALS, or all
    about the grammar of free-text query parameters."""
    patterns = DOCUMENTED_REFUSALS.get(response.status_code)
    if not patterns:
        return False
    try:
        errors = response.json().get("errors") or []
    except Exception:
        return False

    def documented(error: dict[str, Any]) -> bool:
        parameter = error.get("parameter")
        if response.status_code == 400 and parameter and not TYPED_PARAMETERS.fullmatch(parameter):
            return True
        message = str(error.get("message", ""))
        return any(re.fullmatch(pattern, message, re.DOTALL) for pattern in patterns)

    return bool(errors) and all(documented(error) for error in errors)


def positive_data_acceptance_as_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' `positive_data_acceptance`, with DOCUMENTED_REFUSALS allowed."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if is_documented_refusal(response):
            return None
        raise


#: Query parameters that are comma lists the document allows empty (`fields=` shows the key
#: only): `[]` and `[""]` are both sent as `fields=`, and the API skips blank items, so a
#: negative case of `[""]` or `["", ""]` is the allowed empty list on the wire.
EMPTY_LISTS_ALLOWED = re.compile(r"fields(\[\w+\])?")


def _sent_as_an_allowed_empty_list(case: Any) -> bool:
    """Whether every query parameter the negative case broke went out as an empty value of a
    list the document allows empty."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    location = getattr(data, "parameter_location", None)
    if data is None or location is None or location.name.lower() != "query":
        return False
    names = {data.parameter} if getattr(data, "parameter", None) else set()
    names |= {m.parameter for m in getattr(data, "mutations", None) or [] if m.parameter}
    if not names:
        return False
    query = case.query or {}

    def wire(value: Any) -> str:
        return ",".join(map(str, value)) if isinstance(value, list) else str(value)

    # blank items are skipped: `fields=,` is `fields=`
    return all(
        EMPTY_LISTS_ALLOWED.fullmatch(n) and not wire(query.get(n)).strip(", ") for n in names
    )


def negative_data_rejection_on_the_wire(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' `negative_data_rejection`, judging what was sent rather than what was
    generated when the two differ (an empty list), and counting 412 as a refusal: a failed
    If-Match is answered before the content is read (RFC 9110, 13.2.1)."""
    if response.status_code == 412:
        return None
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if _sent_as_an_allowed_empty_list(case):
            return None
        raise


def all_checks() -> list[Any]:
    """Every check schemathesis registers (its `--checks all`), as functions to call;
    `positive_data_acceptance` knows the API's documented refusals, `negative_data_rejection`
    what an empty list looks like on the wire."""
    load_all_checks()
    replaced = {
        positive_data_acceptance: positive_data_acceptance_as_documented,
        negative_data_rejection: negative_data_rejection_on_the_wire,
    }
    return [replaced.get(check, check) for check in CHECKS.get_all() if not is_check_class(check)]


ALL_CHECKS = all_checks()


def failure_kind(case: Any, response: Any, error: BaseException) -> str:
    """What is wrong, in a few words (check title, method, status), to tally failures."""
    titles = (
        sorted({f.title for f in error.exceptions})
        if isinstance(error, FailureGroup)
        else [type(error).__name__]
    )
    status = response.status_code if response is not None else "-"
    return f"{' + '.join(titles)} / {case.method} {status} {_problems(response)}"


def _problems(response: Any) -> str:
    """The problems a problem+json answer lists, without the values they quote."""
    try:
        errors = response.json().get("errors") or []
    except Exception:
        return ""
    found = {
        re.sub(r"'[^']*'|\[[^]]*\]|-?\d[\d.e+-]*", "_", str(e.get("message", ""))) for e in errors
    }
    return "; ".join(sorted(found))


class Failures:
    """Every wrong answer of a run: its description, and a tally by kind."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.kinds: Counter[str] = Counter()

    def add(self, case: Any, response: Any, error: BaseException) -> None:
        self.items.append(_describe(case, response, error))
        self.kinds[failure_kind(case, response, error)] += 1

    def report(self) -> str:
        tally = "\n".join(f"  {count:5d}  {kind}" for kind, count in self.kinds.most_common())
        return f"{len(self.items)} failures:\n{tally}\n" + "\n".join(self.items)


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
    examples: int,
    failures: Failures,
    counter: Counter[str],
    path_parameters: dict[str, Any] | None = None,
) -> None:
    """Send `examples` generated requests for `operation` in `mode`, recording failures."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def send(case: Any) -> None:
        counter["cases"] += 1
        response = None
        try:
            response = case.call()
            counter["requests"] += 1
            counter[str(response.status_code)] += 1
            case.validate_response(response, checks=ALL_CHECKS)
        except FailureGroup as error:
            failures.add(case, response, error)
        except Exception as error:
            failures.add(case, response, error)

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


def _summary(counter: Counter[str], operations: int, elapsed: float) -> str:
    statuses = sorted((k, v) for k, v in counter.items() if k.isdigit())
    return (
        f"{counter['cases']} cases, {counter['requests']} requests over {operations} operations "
        f"in {elapsed:.1f} s; statuses {statuses}"
    )


def test_generated_requests_conform(api: Any) -> None:
    schema = schemathesis.openapi.from_wsgi(f"{api.prefix}/openapi.json", api.app)
    failures = Failures()
    counter: Counter[str] = Counter()
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    keyed = {id(op): existing_keys(api, op) for op in operations}
    runs = sum(3 if keyed[id(op)] is not None else 2 for op in operations)
    examples = max(1, math.ceil(fuzz_cases() / runs))
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    for operation in operations:
        api.reseed()  # every operation starts from the seed rows
        run_operation(operation, positive, examples, failures, counter)
        keys = keyed[id(operation)]
        if keys is not None:
            run_operation(operation, positive, examples, failures, counter, keys)
        run_operation(operation, negative, examples, failures, counter)
    summary = _summary(counter, len(operations), time.monotonic() - started)
    print(f"\n[{api.dialect}] stateless, {len(ALL_CHECKS)} checks: {summary}")
    print(f"[{api.dialect}] failures: {len(failures.items)}")
    # hypothesis stops early for an operation with few distinct inputs; most run in full
    assert counter["cases"] >= fuzz_cases() * 0.6, summary
    assert not failures.items, f"{summary}\n{failures.report()}"


def test_linked_scenarios_conform(api: Any) -> None:
    """Scenarios that follow the document's links: create, then read, change, delete."""
    schema = schemathesis.openapi.from_wsgi(f"{api.prefix}/openapi.json", api.app)
    failures = Failures()
    counter: Counter[str] = Counter()
    links: Counter[str] = Counter()
    base = schema.as_state_machine()

    class Scenario(base):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            api.reseed()
            counter["scenarios"] += 1

        def step(self, input: Any) -> Any:
            if input.transition is not None and input.is_applied:
                links[input.transition.id] += 1
            return super().step(input)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            counter["cases"] += 1
            counter["requests"] += 1
            counter[str(response.status_code)] += 1
            try:
                case.validate_response(
                    response,
                    checks=ALL_CHECKS,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except (FailureGroup, Exception) as error:  # a FailureGroup is no Exception
                failures.add(case, response, error)

    started = time.monotonic()
    Scenario.run(
        settings=settings(
            max_examples=max(1, fuzz_cases() // CASES_PER_SCENARIO),
            stateful_step_count=CASES_PER_SCENARIO,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    summary = _summary(counter, len(links), time.monotonic() - started)
    print(f"\n[{api.dialect}] stateful: {counter['scenarios']} scenarios, {summary}")
    print(f"[{api.dialect}] links followed: {sum(links.values())} over {len(links)} links")
    print(f"[{api.dialect}] failures: {len(failures.items)}")
    assert links, "no link of the document was followed"
    assert not failures.items, f"{summary}\n{failures.report()}"
