"""The README and the user guide are true: each `eiwa ...` line parses against the CLI (every
command, option and choice exists), the test command is the one .ci/run runs, the Python example
returns what the README shows, and every link to a file of the repository leads to one."""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import click
import pytest

from eiwa.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "GUIDE.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def blocks(kind: str, document: Path = DOCUMENTS[0]) -> list[str]:
    return [body for lang, body in FENCE.findall(document.read_text(encoding="utf-8")) if lang == kind]


def shell_lines(text: str) -> list[str]:
    """Command lines with backslash continuations joined and trailing comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def eiwa_commands() -> list[list[str]]:
    commands = []
    for body in [body for document in DOCUMENTS for body in blocks("", document) + blocks("sh", document)]:
        for line in shell_lines(body):
            for part in re.split(r"\s*&&\s*", line):
                if re.match(r"(\.venv/bin/)?eiwa\s", part):
                    commands.append(shlex.split(part, comments=True)[1:])
    return commands


def parse(args: list[str]) -> None:
    """Parses `eiwa ARGS` as click would run it, without running it; a path that must exist may not."""
    command, name, rest = cli, "eiwa", list(args)
    while isinstance(command, click.Group):
        name, rest = rest[0], rest[1:]
        command = command.get_command(click.Context(command), name)
        assert command is not None, f"no command {name!r}"
    try:
        command.make_context(name, rest)
    except click.BadParameter as error:
        if "does not exist" not in str(error):
            raise


def test_the_readme_shows_eiwa_commands():
    assert len(eiwa_commands()) >= 5


@pytest.mark.parametrize("args", eiwa_commands(), ids=lambda args: " ".join(args)[:60])
def test_each_readme_command_parses(args):
    parse(args)


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_command = " ".join(shell_lines(ci)[-1:])
    assert "pytest" in ci_command
    assert ci_command in [" ".join(shell_lines(body)) for body in blocks("")]


def test_the_tagging_example_returns_what_the_readme_shows():
    (example,) = [body for body in blocks("python") if body.startswith(">>>")]
    test = doctest.DocTestParser().get_doctest(example, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


@pytest.mark.parametrize("document", [DOCUMENTS[0], *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_links_to_repository_files_lead_to_files(document):
    text = document.read_text(encoding="utf-8")
    targets = [target for target, _ in LINK.findall(text) if "://" not in target]
    missing = [target for target in targets if not (document.parent / target).exists()]
    assert not missing, missing
