"""The form to send a task (task_form.py): fields from the task's signature, values read back
as JSON or text, and every problem named by its field, the form kept as typed (a 422)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from flasker import introspect
from flasker_console.task_form import (
    TaskForm,
    TaskInputError,
    arguments_from_form,
    options_from_form,
    parse_value,
)

ConsoleSite = Any
HTMX = {"HX-Request": "true"}

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(events=False))
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x: int, y: int = 2):
    return x + y


@celery.task(name="{module}.collect")
def collect(first, /, *rest, **options):
    return [first, rest, options]
"""


@pytest.fixture(scope="module")
def form_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=SOURCE)


@pytest.fixture
def site(form_site: ConsoleSite) -> ConsoleSite:
    form_site.reset()
    return form_site


def task(site: ConsoleSite, short: str) -> dict[str, Any]:
    name = f"{site.project.config.modules[0]}.{short}"
    return next(t for t in introspect.tasks(site.project) if t["name"] == name)


def test_fields_follow_the_signature(site: ConsoleSite) -> None:
    form = TaskForm(task(site, "add"))
    assert form.name.endswith(".add")
    assert [(f["field"], f["initial"], f["placeholder"]) for f in form.fields] == [
        ("arg:x", "", 'int, JSON ("text", 3, true, [..], {..}) or plain text'),
        ("arg:y", "2", 'int, JSON ("text", 3, true, [..], {..}) or plain text'),
    ]
    star = TaskForm(task(site, "collect"))
    assert [(f["field"], f["placeholder"]) for f in star.fields] == [
        ("arg:first", 'JSON ("text", 3, true, [..], {..}) or plain text'),
        ("arg:rest", "JSON list of extra arguments, e.g. [1, 2]"),
        ("arg:options", 'JSON object of extra keywords, e.g. {"a": 1}'),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ('"3"', "3"), ("Main St", "Main St"), ("true", True), ("[1, {}]", [1, {}])],
)
def test_a_value_is_json_when_it_parses_else_text(text: str, value: Any) -> None:
    assert parse_value(text) == value


def test_arguments_go_by_keyword_and_positional_only_by_position(site: ConsoleSite) -> None:
    add = task(site, "add")
    assert arguments_from_form(add, MultiDict({"arg:x": " 40 ", "arg:y": ""})) == ([], {"x": 40})
    collect = task(site, "collect")
    form = MultiDict({"arg:first": "a", "arg:rest": "[1, 2]", "arg:options": '{"k": null}'})
    assert arguments_from_form(collect, form) == (["a", 1, 2], {"k": None})


def test_every_problem_is_named_by_its_field(site: ConsoleSite) -> None:
    form = MultiDict({"arg:first": "", "arg:rest": "{}", "arg:options": "[]"})
    with pytest.raises(TaskInputError) as refused:
        arguments_from_form(task(site, "collect"), form)
    assert str(refused.value) == (
        "first is required; *rest: expected a JSON list, e.g. [1, 2]; **options: expected a "
        'JSON object, e.g. {"a": 1}'
    )
    assert refused.value.problems == {  # type: ignore[attr-defined]
        "first": "first is required",
        "rest": "*rest: expected a JSON list, e.g. [1, 2]",
        "options": '**options: expected a JSON object, e.g. {"a": 1}',
    }
    assert refused.value.status == 422


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        ({}, (None, None)),
        ({"countdown": " 2.5 ", "queue": " q1 "}, (2.5, "q1")),
        ({"countdown": "0", "queue": ""}, (None, None)),  # 0 s is "now"
    ],
)
def test_options_are_read_back(fields: dict[str, str], options: tuple[Any, Any]) -> None:
    assert options_from_form(MultiDict(fields)) == options


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"countdown": "soon"}, "countdown: expected seconds, got 'soon'"),
        ({"countdown": "-1"}, "countdown: expected 0 or more seconds"),
        (
            {"queue": "a queue"},
            "queue: 'a queue' is not a queue name the console accepts: use letters, digits "
            "and . _ : @ - (starting with a letter or digit)",
        ),
        ({"queue": "q" * 300}, "queue: 300 characters is too long (at most 200)"),
    ],
)
def test_bad_options_are_refused_naming_the_field(fields: dict[str, str], message: str) -> None:
    with pytest.raises(TaskInputError) as refused:
        options_from_form(MultiDict(fields))
    assert str(refused.value) == message


def test_the_page_answers_a_bad_form_with_a_422_naming_the_field(site: ConsoleSite) -> None:
    name = f"{site.project.config.modules[0]}.add"
    form = site.form(site.page("/tasks"), f"send-{name}")
    form.update({"arg:x": "1", "countdown": "-1"})
    answer = site.post("/tasks", data=form, headers=HTMX)
    assert answer.status_code == 422
    assert "<strong>422:</strong> countdown: expected 0 or more seconds" in answer.get_data(
        as_text=True
    )


#: A task module as the bundled example's: string annotations (`from __future__ import
#: annotations`), one naming a type defined nowhere (imported under TYPE_CHECKING, or a typo).
ANNOTATED_SOURCE = """\
from __future__ import annotations

from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(events=False))
celery = current_project.celery


@celery.task(name="{module}.adopt")
def adopt(cat_name: str, house_id: int):
    return [cat_name, house_id]


@celery.task(name="{module}.pet")
def pet(cat_name: str, toy: Undefined = None):
    return cat_name
"""


@pytest.fixture(scope="module")
def annotated_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=ANNOTATED_SOURCE)


def test_string_annotations_are_shown_as_written(annotated_site: ConsoleSite) -> None:
    module = annotated_site.project.config.modules[0]
    page = annotated_site.page("/tasks")
    assert f"<code>{module}.adopt(cat_name: str, house_id: int)</code>" in page
    # an annotation that does not evaluate is shown as the string written, not a failure
    assert f"<code>{module}.pet(cat_name: str, toy: Undefined = None)</code>" in page
    assert "&#39;" not in page.split('id="task-1"')[1].split("</code>")[0]
    adopt = TaskForm(task(annotated_site, "adopt"))
    assert [(f["field"], f["annotation"], f["placeholder"]) for f in adopt.fields] == [
        ("arg:cat_name", "str", 'str, JSON ("text", 3, true, [..], {..}) or plain text'),
        ("arg:house_id", "int", 'int, JSON ("text", 3, true, [..], {..}) or plain text'),
    ]
    pet = TaskForm(task(annotated_site, "pet"))
    assert [(f["field"], f["annotation"], f["required"]) for f in pet.fields] == [
        ("arg:cat_name", "str", True),
        ("arg:toy", "Undefined", False),
    ]
    # and the form still sends
    form = MultiDict({"arg:cat_name": "Tom", "arg:toy": ""})
    assert arguments_from_form(task(annotated_site, "pet"), form) == ([], {"cat_name": "Tom"})
