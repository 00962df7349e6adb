"""Calls side by side under one deadline (the console's checks and broadcasts): every call
answers by its value, a failure by its error text, a hung one by "no answer within", and the
caller waits about one deadline whatever they do."""

from __future__ import annotations

import threading
import time

from flasker.testing import wait_for
from flasker_console._parallel import side_by_side


def test_each_call_answers_by_its_value_or_its_error_in_the_order_given() -> None:
    def broken() -> None:
        raise ConnectionRefusedError("broker at 127.0.0.1:9 refused")

    answers = side_by_side({"db": lambda: 1, "broker": broken, "workers": lambda: ["w1"]}, 1, 1)
    assert answers == {
        "db": 1,
        "broker": "ConnectionRefusedError: broker at 127.0.0.1:9 refused",
        "workers": ["w1"],
    }
    assert list(answers) == ["db", "broker", "workers"]


def test_a_hung_call_is_named_and_the_caller_waits_one_deadline() -> None:
    release = threading.Event()
    started = time.monotonic()
    answers = side_by_side({"fast": lambda: "ok", "hung": release.wait}, 0.2, 0.1)
    took = time.monotonic() - started
    release.set()
    assert answers == {"fast": "ok", "hung": "no answer within 0.2 s"}
    assert 0.3 <= took < 1.5


def test_then_runs_before_returning_when_every_call_answered() -> None:
    done: list[str] = []
    answers = side_by_side({"a": lambda: 1}, 1, 1, then=lambda: done.append("released"))
    assert answers == {"a": 1}
    assert done == ["released"]


def test_then_waits_for_the_late_calls_before_releasing() -> None:
    release = threading.Event()
    done: list[str] = []
    answers = side_by_side(
        {"late": release.wait}, 0.1, 0, then=lambda: done.append("released"), then_within=30
    )
    assert answers == {"late": "no answer within 0.1 s"}
    assert done == []  # the late call still uses what `then` releases
    release.set()
    wait_for(lambda: done == ["released"], 10, what="then() after the late call returned")


def test_then_runs_after_then_within_whatever_the_late_calls_do() -> None:
    never = threading.Event()
    done: list[str] = []
    side_by_side({"hung": never.wait}, 0.05, 0, then=lambda: done.append("x"), then_within=0.2)
    wait_for(lambda: done == ["x"], 10, what="then() once then_within passed")
    never.set()
