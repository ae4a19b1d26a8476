"""eiwa.arguments: the argument checks every entry point shares, each refusing with one line that
names the argument and the value."""

from __future__ import annotations

import math
from pathlib import Path

import click
import click.testing
import pytest

from eiwa import arguments
from eiwa.errors import EiwaError


@pytest.mark.parametrize("value", [1, 64, 2**40])
def test_positive_int_accepts_ints_of_at_least_one(value):
    assert arguments.positive_int("batch_size", value) == value


@pytest.mark.parametrize(
    "value, fragment",
    [(0, "at least 1, got 0"), (-1, "at least 1, got -1"), ("64", "'64' (str)"), (2.5, "2.5 (float)"),
     (True, "True (bool)"), (None, "None (NoneType)"), (65, "at most 64, got 65")],
)  # fmt: skip
def test_positive_int_refuses_with_one_line_naming_argument_and_value(value, fragment):
    with pytest.raises(EiwaError) as raised:
        arguments.positive_int("batch_size", value, upper=64)
    message = str(raised.value)
    assert message.startswith("batch_size must be") and fragment in message and "\n" not in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "1.0", None, 10**400])
def test_finite_number_refuses_nan_infinities_bools_strings_and_overflow(value):
    with pytest.raises(EiwaError, match="^timeout must be a"):
        arguments.finite_number("timeout", value)


def test_finite_number_checks_its_bounds_and_returns_a_float():
    assert arguments.finite_number("x", 1, low=0, high=1) == 1.0
    with pytest.raises(EiwaError, match="x must be at least 0, got -0.5"):
        arguments.finite_number("x", -0.5, low=0)
    with pytest.raises(EiwaError, match="x must be at most 1, got 2"):
        arguments.finite_number("x", 2, high=1)


@pytest.mark.parametrize("value", [0, 1, 2**32 - 1])
def test_seed_accepts_what_torch_and_numpy_seed_with(value):
    assert arguments.seed("seed", value) == value


@pytest.mark.parametrize("value", [-1, 2**32, 2**70, 1.0, "1", True])
def test_seed_refuses_out_of_range_and_non_integers(value):
    with pytest.raises(EiwaError, match="^seed must be"):
        arguments.seed("seed", value)


def test_text_or_texts_wraps_one_text_and_keeps_an_iterable_lazy():
    assert arguments.text_or_texts("a") == ["a"]
    stream = iter(["a", "b"])
    assert arguments.text_or_texts(stream) is stream


@pytest.mark.parametrize(
    "value, fragment", [(None, "None"), (3, "3 (int)"), (b"abc", "got bytes"), ({"text": "a"}, "(dict)")]
)
def test_text_or_texts_refuses_non_texts_naming_what_it_got(value, fragment):
    with pytest.raises(EiwaError, match="^texts must be a string or an iterable of strings") as raised:
        arguments.text_or_texts(value)
    assert fragment in str(raised.value)


@pytest.mark.parametrize("value", [None, 123, "", "  ", ["model"]])
def test_model_name_refuses_what_is_no_name_or_path(value):
    with pytest.raises(EiwaError, match="^expected a model name or a model directory's path"):
        arguments.model_name(value)
    assert arguments.model_name("conll03-en") == "conll03-en"
    assert arguments.model_name(Path("m")) == Path("m")


def test_parameter_bytes_names_the_memory_a_size_would_take():
    assert arguments.parameter_bytes("hidden_dim=100", 1000) == 4000
    with pytest.raises(EiwaError, match=r"hidden_dim=10 is too large: .* would take 128 GiB \(at most 64 GiB\)"):
        arguments.parameter_bytes("hidden_dim=10", 32 * 2**30)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN"])
def test_the_click_type_refuses_what_floatrange_lets_through(text):
    @click.command()
    @click.option("--x", type=arguments.FiniteFloatRange())  # unbounded: inf passes the range check
    def command(x):
        click.echo(x)

    result = click.testing.CliRunner().invoke(command, ["--x", text])
    assert result.exit_code == 2 and "not a finite number" in result.output
    assert click.testing.CliRunner().invoke(command, ["--x", "0.5"]).output == "0.5\n"


@pytest.mark.parametrize("value", ["data.conll", Path("data.conll")])
def test_path_accepts_text_paths(value):
    assert arguments.path("train", value) == value


@pytest.mark.parametrize(
    "value, fragment",
    [(4, "a path (str or pathlib.Path), got 4 (int)"), (b"x.conll", "got b'x.conll' (bytes)"),
     ("", "empty path"), ("a\x00b", "NUL character"), (None, "got None (NoneType)")],
)  # fmt: skip
def test_path_refuses_what_is_not_a_text_path(value, fragment):
    with pytest.raises(EiwaError, match="^train must") as raised:
        arguments.path("train", value)
    assert fragment in str(raised.value)


def test_optional_checks_accept_none_and_refuse_the_wrong_type():
    assert arguments.path("dev", None, optional=True) is None
    assert arguments.optional_text("lang", None) is None
    assert arguments.strings("columns", ("token", "tag")) == ["token", "tag"]
    assert arguments.string_mapping("labels", {"PER": "person"}) == {"PER": "person"}
    for check, value in [
        (lambda v: arguments.optional_text("lang", v, empty=False), " "),
        (lambda v: arguments.optional_text("lang", v), {}),
        (lambda v: arguments.strings("columns", v), "token,tag"),
        (lambda v: arguments.strings("columns", v), [0]),
        (lambda v: arguments.string_mapping("labels", v), {1: "x"}),
        (lambda v: arguments.flag("force", v), 1),
        (lambda v: arguments.function("log", v), "print"),
    ]:
        with pytest.raises(EiwaError, match=r"^(lang|columns|labels|force|log) must"):
            check(value)
