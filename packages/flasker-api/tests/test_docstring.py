"""The one-line description of a model or property, from its docstring (_docstring.py)."""

from __future__ import annotations

from flasker_api._docstring import summary


def test_the_first_paragraph_on_one_line():
    def documented() -> None:
        """A house
        with cats.

        Not shown: the rest.
        """

    assert summary(documented) == "A house with cats."


def test_no_docstring_is_none():
    class Bare:
        pass

    assert summary(Bare) is None


def test_an_inherited_docstring_is_not_borrowed():
    class Base:
        """The base."""

    class Child(Base):
        pass

    assert summary(Child) is None
