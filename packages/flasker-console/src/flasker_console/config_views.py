"""The cfg editor: section forms and raw text, validation, preview (a diff) and atomic save
with conflict detection; viewers see secrets masked (redaction.py), admins change."""

from __future__ import annotations

import difflib
import logging
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_htmx import make_response

from flasker import schema
from flasker.exceptions import ConfigError, StaleConfigError

from . import editing
from ._site import console_cfg_path, console_site
from .access import current_operator
from .blueprint import htmx
from .exceptions import ConsoleError
from .redaction import is_redacted, redact

logger = logging.getLogger(__name__)


# -- config editor: sections -----------------------------------------------------------------
def config_page() -> Any:
    path = console_cfg_path()
    try:
        edit = editing.open_edit(path)
    except ConfigError as error:
        # the file on disk cannot be parsed: only raw mode can fix it
        return render_template(
            "flasker_console/config_unreadable.html", problems=error.problems, path=path
        ), 200
    except OSError as error:
        raise ConsoleError(f"cannot read {path}: {error.strerror or error}") from None
    return render_template(
        "flasker_console/config.html",
        saved=request.args.get("saved") is not None,
        **_editor_context(_for_operator(edit)),
    )


def config_validate() -> Any:
    edit = _section_edit()
    return render_template("flasker_console/partials/validated.html", edit=edit, raw=False)


def config_post() -> Any:
    edit = _section_edit()
    return _preview_or_save(edit, raw=False)


def _section_edit() -> editing.Edit:
    try:
        return editing.edit_from_form(console_cfg_path(), request.form)
    except ConfigError as error:  # the text the page was made from cannot be parsed any more
        raise ConsoleError(f"{error}; open the raw editor to fix the file") from None


# -- config editor: raw text -----------------------------------------------------------------
def config_raw_page() -> Any:
    path = console_cfg_path()
    try:
        edit = editing.open_raw(path)
    except (OSError, UnicodeError) as error:
        raise ConsoleError(f"cannot read {path}: {error}") from None
    return render_template(
        "flasker_console/config_raw.html",
        saved=request.args.get("saved") is not None,
        **_editor_context(_for_operator(edit)),
    )


def config_raw_validate() -> Any:
    edit = editing.raw_edit_from_form(console_cfg_path(), request.form)
    return render_template("flasker_console/partials/validated.html", edit=edit, raw=True)


def config_raw_post() -> Any:
    edit = editing.raw_edit_from_form(console_cfg_path(), request.form)
    return _preview_or_save(edit, raw=True)


def _for_operator(edit: editing.Edit) -> editing.Edit:
    """The edit as the operator may see it: viewers get secrets masked (see redaction.py)."""
    if current_operator().is_admin:
        return edit
    for card in edit.cards:
        for row in card.rows:
            row.written = row.value = redact(row.key, row.written)
    if edit.document is None:
        edit.text = "(this file cannot be parsed; only an admin may read its raw text)"
        return edit
    document = edit.document
    for section in document.sections():
        for key, value in document.items(section):
            if is_redacted(key, value):
                document.set(section, key, redact(key, value))
    edit.text = document.text
    return edit


# -- preview and save ------------------------------------------------------------------------
def _preview_or_save(edit: editing.Edit, raw: bool) -> Any:
    """`action=preview` shows the diff; `action=save` writes the file (valid and not stale)."""
    page = "flasker_console/config_raw.html" if raw else "flasker_console/config.html"
    action = request.form.get("action", "preview")
    conflict = None
    status = 200
    if not edit.is_valid:
        status = 422
    elif action == "save" and edit.is_changed:
        assert edit.document is not None
        try:
            edit.document.save()
        except StaleConfigError as error:
            conflict = error
            status = 409
        except ConfigError as error:  # only when the environment changed meanwhile
            edit.problems = list(error.problems)
            status = 422
        except OSError as error:
            raise ConsoleError(f"cannot write {edit.path}: {error.strerror or error}") from None
        else:
            diff = edit.diff()
            logger.info("cfg saved from the console: %s\n%s", edit.path, diff)
            _record_save(edit, diff)
            target = url_for(".config_raw" if raw else ".config", saved=1)
            if htmx:
                return make_response("", 200, redirect=target)
            return redirect(target, 303)
    context = _editor_context(edit, raw=raw, conflict=conflict)
    if htmx:
        return render_template("flasker_console/partials/previewed.html", **context), status
    return render_template(page, preview=True, **context), status


def _record_save(edit: editing.Edit, diff: str) -> None:
    """Add the save to the activity log (never fails the save: activity.record warns)."""
    from . import activity

    try:
        target = activity.cfg_target(edit.path.name, edit.base_text, edit.text)
        project = console_site().project
        assert project is not None
        activity.record(project, current_operator().email, "cfg.saved", target, diff)
    except Exception as error:
        logger.warning("the console could not record the cfg save: %s", error)


def _editor_context(
    edit: editing.Edit, raw: bool = False, conflict: StaleConfigError | None = None
) -> dict[str, Any]:
    written = {card.name for card in edit.cards}
    context: dict[str, Any] = {
        "edit": edit,
        "raw": raw,
        "conflict": conflict,
        "section_names": [n for n in schema.all_section_names() if n not in written],
        "conflict_diff": "",
    }
    if conflict is not None:
        name = edit.path.name
        context["conflict_diff"] = "".join(
            difflib.unified_diff(
                conflict.current_text.splitlines(keepends=True),
                edit.text.splitlines(keepends=True),
                fromfile=f"{name} (on disk now)",
                tofile=f"{name} (yours)",
            )
        )
    return context
