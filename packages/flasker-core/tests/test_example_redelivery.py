"""The example's tasks are safe to deliver twice (flasker's delivery is at-least-once).

A worker SIGKILLed mid-task leaves the task's message to be delivered again
(`test_fault_worker_kill`), so a task may run a second time with the same id and arguments.
Each of the example's tasks is run twice here, as that redelivery would run it, and the data
must be what one run left.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from .test_example import ADDRESSES, SEEDED_CENSUS, Example, example

__all__ = ["example"]  # the fixture, shared with test_example

pytestmark = pytest.mark.usefixtures("isolated")


def _data(houses: Example) -> dict[str, Any]:
    """Every house and which house every cat lives in."""
    with houses.project.db.Session() as session:
        return {
            "houses": sorted(session.execute(select(houses.House.id, houses.House.address))),
            "cats": sorted(session.execute(select(houses.Cat.name, houses.Cat.house_id))),
        }


def _twice(houses: Example, name: str, *args: Any) -> tuple[Any, Any]:
    """Run a task, then run it again as a redelivery would: same id, same arguments."""
    task_id = str(uuid.uuid4())
    first = houses.task(name).apply(args, task_id=task_id)
    second = houses.task(name).apply(args, task_id=task_id)
    return first, second


def test_a_redelivered_census_changes_nothing(example: Callable[..., Example]) -> None:
    houses = example()
    before = _data(houses)
    first, second = _twice(houses, "census")
    assert first.get() == second.get() == SEEDED_CENSUS
    assert _data(houses) == before


def test_a_redelivered_adoption_leaves_the_cat_where_the_first_run_put_it(
    example: Callable[..., Example],
) -> None:
    houses = example()
    first, second = _twice(houses, "adopt", "Felix", 2)
    assert first.get() == {"cat": "Felix", "from": ADDRESSES[0], "to": ADDRESSES[1]}
    once = _data(houses)
    assert houses.house_of("Felix") == 2
    # the second run found the cat already there: same data, only its report differs
    assert second.get() == {"cat": "Felix", "from": ADDRESSES[1], "to": ADDRESSES[1]}
    assert _data(houses) == once
    assert houses.census()["houses"] == dict(zip(ADDRESSES, [1, 2, 3], strict=True))


def test_a_redelivered_failing_task_changes_nothing(example: Callable[..., Example]) -> None:
    houses = example()
    before = _data(houses)
    first, second = _twice(houses, "fail")
    assert first.failed()
    assert second.failed()
    assert _data(houses) == before
