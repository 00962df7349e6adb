"""Calls with a deadline: `within` returns what the call returned, raises what it raised, or
`CheckTimeout` when it hangs; `side_by_side` (tested further with the console, which uses it
most) answers every call by its value or its error text, and runs in daemon threads."""

from __future__ import annotations

import threading

import pytest

from flasker import health
from flasker.deadline import CheckTimeout, side_by_side, within


def test_within_returns_what_the_call_returned() -> None:
    assert within(1.0, lambda: 42) == 42


def test_within_raises_what_the_call_raised() -> None:
    def broken() -> None:
        raise ConnectionRefusedError("refused")

    with pytest.raises(ConnectionRefusedError, match="refused"):
        within(1.0, broken)


def test_within_gives_up_at_the_deadline_on_a_daemon_thread() -> None:
    release = threading.Event()  # never set before within() returns: the call hangs
    with pytest.raises(CheckTimeout, match=r"^no answer within 0\.1 s$"):
        within(0.1, release.wait)
    hung = [t for t in threading.enumerate() if t.name == "flasker-check" and t.is_alive()]
    assert hung, "the hung call's thread is left running"
    assert all(t.daemon for t in hung), "a hung call must not keep the process alive at exit"
    release.set()


def test_side_by_side_answers_each_call_by_its_value_or_its_error() -> None:
    def broken() -> None:
        raise TimeoutError("slow")

    answers = side_by_side({"a": lambda: 1, "b": broken}, 1.0, 0.5)
    assert answers == {"a": 1, "b": "TimeoutError: slow"}


def test_health_keeps_the_names_it_always_exported() -> None:
    assert health.within is within
    assert health.CheckTimeout is CheckTimeout
