"""The first paragraph of a docstring, on one line: the description of a model or property."""

from __future__ import annotations

import inspect
from typing import Any


def summary(thing: Any) -> str | None:
    doc = thing.__doc__  # not getdoc: a model without a docstring must not show Model's
    if not doc or not isinstance(doc, str):
        return None
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")
