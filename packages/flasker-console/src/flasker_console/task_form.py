"""The form to send a task, built from its signature (core's `introspect.tasks`), and the
arguments and options read back from it. Values are JSON when they parse as JSON, else text;
every problem is named by its field (`TaskInputError`, 422)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ConsoleError


class TaskInputError(ConsoleError):
    """The task form holds values that cannot be sent (the message names the field)."""

    status = 422


@dataclass
class TaskForm:
    """A task's parameters as form fields, and the values an operator typed into them."""

    task: dict[str, Any]
    values: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.task["name"])

    @property
    def fields(self) -> list[dict[str, Any]]:
        rows = []
        for parameter in self.task["parameters"]:
            default = parameter["default"]
            rows.append(
                {
                    **parameter,
                    "field": f"arg:{parameter['name']}",
                    "placeholder": _placeholder(parameter),
                    "initial": "" if default is None else json.dumps(default),
                }
            )
        return rows


def _placeholder(parameter: dict[str, Any]) -> str:
    kind = parameter["kind"]
    if kind == "var_positional":
        return "JSON list of extra arguments, e.g. [1, 2]"
    if kind == "var_keyword":
        return 'JSON object of extra keywords, e.g. {"a": 1}'
    annotation = parameter.get("annotation")
    hint = f"{annotation}, " if annotation else ""
    return f'{hint}JSON ("text", 3, true, [..], {{..}}) or plain text'


def parse_value(text: str) -> Any:
    """A field's value: JSON when it parses, else the text itself (so `Main St` needs no quotes)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def arguments_from_form(task: dict[str, Any], form: Any) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments from the form's `arg:NAME` fields.

    Empty fields are left out (the task's default applies); a required one that is empty is an
    error. Positional-only parameters go into args, the others are passed by keyword.
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for parameter in task["parameters"]:
        name, kind = parameter["name"], parameter["kind"]
        text = (form.get(f"arg:{name}") or "").strip()
        if not text:
            if parameter["required"]:
                problems[name] = f"{name} is required"
            continue
        value = parse_value(text)
        if kind == "var_positional":
            if not isinstance(value, list):
                problems[name] = f"*{name}: expected a JSON list, e.g. [1, 2]"
                continue
            args.extend(value)
        elif kind == "var_keyword":
            if not isinstance(value, dict):
                problems[name] = f'**{name}: expected a JSON object, e.g. {{"a": 1}}'
                continue
            kwargs.update(value)
        elif kind == "positional_only":
            args.append(value)
        else:
            kwargs[name] = value
    if problems:
        error = TaskInputError("; ".join(problems.values()))
        error.problems = problems  # type: ignore[attr-defined]
        raise error
    return args, kwargs


def options_from_form(form: Any) -> tuple[float | None, str | None]:
    countdown_text = (form.get("countdown") or "").strip()
    countdown = None
    if countdown_text:
        try:
            countdown = float(countdown_text)
        except ValueError:
            raise TaskInputError(f"countdown: expected seconds, got {countdown_text!r}") from None
        if countdown < 0:
            raise TaskInputError("countdown: expected 0 or more seconds")
    return countdown or None, _queue(form.get("queue"))


def _queue(text: str | None) -> str | None:
    """The queue field: empty for the task's own queue, else a name the consume form would
    accept too. Other names reached the broker, where the embedded one failed on them (a
    space, a slash, a NUL or 300 characters made a 503 with a kombu error, not a sentence)."""
    if not (text or "").strip():
        return None
    from .workers import WorkerInputError, queue_name

    try:
        return queue_name(text)
    except WorkerInputError as error:
        raise TaskInputError(str(error).replace(" to consume from", "")) from None
