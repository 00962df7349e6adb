"""Raw cfg text to typed values: `${VAR}` interpolation and the type converters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flasker import _values
from flasker._values import ValueProblem, convert, guess, interpolate


@pytest.mark.parametrize(
    ("raw", "environ", "expected"),
    [
        ("${SECRET}", {"SECRET": "hunter2"}, "hunter2"),
        ("postgresql://app:${PW}@db/app", {"PW": "s3cret"}, "postgresql://app:s3cret@db/app"),
        ("${A}${B}", {"A": "x", "B": "y"}, "xy"),
        ("${PORT:-5432}", {}, "5432"),
        ("${PORT:-5432}", {"PORT": "6543"}, "6543"),
        # like the shell's :-, an empty variable takes the default...
        ("${PORT:-5432}", {"PORT": ""}, "5432"),
        # ...and without a default an empty variable is an empty value, not an error
        ("${EMPTY}", {"EMPTY": ""}, ""),
        ("${URL:-redis://localhost:6379/0}", {}, "redis://localhost:6379/0"),
        ("${NOTHING:-}", {}, ""),
        ("price: $$5", {}, "price: $5"),
        ("$${NOT_A_REF}", {}, "${NOT_A_REF}"),
        ("$$$$", {}, "$$"),
        ("a lone $ stays", {}, "a lone $ stays"),
        ("no references", {}, "no references"),
    ],
)
def test_interpolate(raw: str, environ: dict[str, str], expected: str) -> None:
    assert interpolate(raw, environ) == expected


def test_interpolate_unset_variable_names_it_and_the_fix() -> None:
    with pytest.raises(ValueProblem) as error:
        interpolate("postgresql://app:${DB_PASSWORD}@db/app", {})
    assert str(error.value) == (
        "environment variable DB_PASSWORD is not set (set it, or write ${DB_PASSWORD:-default})"
    )


@pytest.mark.parametrize("raw", ["${1BAD}", "${}", "${NAME", "${WITH SPACE}"])
def test_interpolate_malformed_reference(raw: str) -> None:
    with pytest.raises(ValueProblem, match=r"bad reference .*\$\$ for a literal \$"):
        interpolate(raw, {"NAME": "x"})


def test_interpolate_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASKER_TEST_TOKEN", "from-the-environment")
    assert interpolate("${FLASKER_TEST_TOKEN}") == "from-the-environment"


def test_interpolated_value_is_not_interpolated_again() -> None:
    # a secret that happens to contain "${...}" or "$$" is used as is
    assert interpolate("${PW}", {"PW": "a$${B}c", "B": "no"}) == "a$${B}c"


@pytest.mark.parametrize("word", ["true", "True", "YES", "yes", "on", "On", "1", " true "])
def test_bool_true_spellings(word: str) -> None:
    assert convert(word, "bool") is True


@pytest.mark.parametrize("word", ["false", "FALSE", "no", "No", "off", "OFF", "0"])
def test_bool_false_spellings(word: str) -> None:
    assert convert(word, "bool") is False


@pytest.mark.parametrize("word", ["maybe", "", "2", "yep", "t"])
def test_bool_refuses_other_words(word: str) -> None:
    with pytest.raises(ValueProblem, match=r"expected a boolean \(true/false, yes/no, on/off"):
        convert(word, "bool")


def test_boolean_word_leaves_the_refusal_to_its_caller() -> None:
    assert _values.boolean_word(" Yes ") is True
    assert _values.boolean_word("t") is None
    assert _values.boolean_word("T", frozenset({"t"}), frozenset({"f"})) is True
    assert _values.boolean_word("f", frozenset({"t"}), frozenset({"f"})) is False


@pytest.mark.parametrize(
    ("text", "expected"), [("42", 42), (" -7 ", -7), ("1_000", 1000), ("+3", 3)]
)
def test_int(text: str, expected: int) -> None:
    assert convert(text, "int") == expected


@pytest.mark.parametrize("text", ["4.5", "four", "", "0x10"])
def test_int_refuses(text: str) -> None:
    with pytest.raises(ValueProblem, match=f"expected a whole number, got {text!r}"):
        convert(text, "int")


@pytest.mark.parametrize(("text", "expected"), [("0.5", 0.5), ("3", 3.0), ("1e3", 1000.0)])
def test_float(text: str, expected: float) -> None:
    assert convert(text, "float") == expected


def test_float_refuses() -> None:
    with pytest.raises(ValueProblem, match="expected a number, got 'half'"):
        convert("half", "float")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app.models, app.views", ["app.models", "app.views"]),
        ("app.models,app.views,", ["app.models", "app.views"]),
        ("\napp.models,\napp.views", ["app.models", "app.views"]),
        ("\napp.models\napp.views", ["app.models", "app.views"]),
        ("one", ["one"]),
        ("", []),
        (" , ,", []),
    ],
)
def test_list(text: str, expected: list[str]) -> None:
    assert convert(text, "list") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"sqlalchemy.engine": "INFO"}', {"sqlalchemy.engine": "INFO"}),
        ('[1, "two", null]', [1, "two", None]),
        ('{"nested": {"a": [true]}}', {"nested": {"a": [True]}}),
    ],
)
def test_json(text: str, expected: object) -> None:
    assert convert(text, "json") == expected


def test_bad_json_says_where_in_the_value() -> None:
    with pytest.raises(ValueProblem, match=r"^invalid JSON: .*line 1 column 2"):
        convert("{bad}", "json")


def test_dict_kind_wants_an_object() -> None:
    assert convert('{"a": 1}', "dict") == {"a": 1}
    with pytest.raises(ValueProblem, match=r"expected a JSON object, got '\[1\]'"):
        convert("[1]", "dict")
    with pytest.raises(ValueProblem, match="expected a JSON object, got 'plain'"):
        convert("plain", "dict")


def test_str_removes_matching_quotes_only() -> None:
    assert convert('"  padded  "', "str") == "  padded  "
    assert convert("'single'", "str") == "single"
    assert convert("\"mismatched'", "str") == "\"mismatched'"
    assert convert("plain", "str") == "plain"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("False", False),
        ("none", None),
        ("null", None),
        ("42", 42),
        ("-1", -1),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ('"quoted"', "quoted"),
        ("yes", "yes"),  # an undeclared key is not assumed to be a boolean
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("007abc", "007abc"),
    ],
)
def test_guess_types_undeclared_values(text: str, expected: object) -> None:
    assert guess(text) == expected
    assert type(guess(text)) is type(expected)


def test_guess_refuses_broken_json() -> None:
    with pytest.raises(ValueProblem, match="invalid JSON"):
        guess('{"a": }')


@settings(database=None)
@given(st.integers())
def test_int_round_trip(number: int) -> None:
    assert convert(str(number), "int") == number
    assert guess(str(number)) == number


@settings(database=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(
                blacklist_categories=("Cs", "Cc", "Z"), blacklist_characters=","
            ),
            min_size=1,
        ),
        max_size=6,
    )
)
def test_list_round_trip(items: list[str]) -> None:
    assert _values.to_list(", ".join(items)) == items
    assert _values.to_list("\n" + ",\n".join(items)) == items
