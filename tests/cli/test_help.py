"""--help reads the same for every command: no type after a flag, one spelling for an
argument, every choice and every default shown; lint's help looks like the rest."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from contextlib import redirect_stdout

import pytest

from tests.cli_helpers import zdm
from zdmigrate.cli.app import app
from zdmigrate.cli.lint_cmd import run

WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands if c.callback)


def _help(*args: str) -> str:
    res = zdm(*args, "--help", env=WIDE)
    assert res.exit_code == 0, res.stderr
    return res.stdout


def _row(text: str, option: str) -> str:
    """The words of ``option``'s row in an options panel (its wrapped lines too)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"│ {option}\b", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"│ -|╰", lines[i])), len(lines)
    )
    return " ".join(" ".join(line.strip("│ ") for line in lines[start:end]).split())


@pytest.mark.parametrize("command", ["", *[c for c in COMMANDS if c != "lint"]])
def test_no_type_after_a_flag(command: str) -> None:
    text = _help(*([command] if command else []))
    assert "<bool>" not in text
    assert "BOOLEAN" not in text
    help_row = next(line for line in text.splitlines() if "--help" in line)
    assert re.search(r"--help\s+-h\s+Show this message", help_row), help_row


def _lint_help() -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert run(["--help"]) == 0
    return out.getvalue()


def _any_help(command: str) -> str:
    if command == "lint":
        return _lint_help()
    return _help(*([command] if command else []))


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_no_python_spelling_in_help(command: str) -> None:
    """Neither typer's ``{FILE}`` usage nor its ``<list[Path]>`` type, whatever its version."""
    text = _any_help(command)
    assert "{" not in text and "}" not in text, text
    assert "list[" not in text, text


def _arguments(text: str) -> list[tuple[str, str]]:
    """(name, type) of each row of the Arguments panel."""
    lines = text.splitlines()
    if not any(line.startswith("╭─ Arguments") for line in lines):
        return []
    start = next(i for i, line in enumerate(lines) if line.startswith("╭─ Arguments"))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("╰"):
            break
        match = re.match(r"│\s+(?:\*\s+)?([A-Z][A-Z_]*(?:\.\.\.)?)\s+(<[^>]+>)", line)
        if match:
            rows.append((match[1], match[2]))
    return rows


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "schema"])
def test_an_argument_has_one_spelling(command: str) -> None:
    """The usage line names an argument as its row does (FILE, FILE... when it takes
    several, in brackets when optional), and the row gives one value's type."""
    text = _any_help(command)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    in_usage = usage.split("[OPTIONS]", 1)[1].split()
    rows = _arguments(text)
    assert [name for name, _ in rows] == [token.strip("[]") for token in in_usage], text
    for name, shown in rows:
        assert shown in ("<path>", "<str>"), (name, shown)


def test_arguments_as_a_user_reads_them() -> None:
    apply_text = _help("apply")
    assert " Usage: zdmigrate apply [OPTIONS] FILE..." in apply_text
    assert _arguments(apply_text) == [("FILE...", "<path>")]
    assert _arguments(_help("complete")) == [("NAME", "<str>")]
    convert_usage = next(line for line in _help("convert").splitlines() if "Usage:" in line)
    assert convert_usage.split() == ["Usage:", "zdmigrate", "convert", "[OPTIONS]", "[FILE]"]
    assert _arguments(_lint_help()) == [("PATH...", "<path>")]


def test_a_repeatable_option_shows_one_value_type() -> None:
    assert _row(_help("gate"), "--code").startswith("--code <path> ")
    assert _row(_help("gate"), "--ignore-role").startswith("--ignore-role <str> ")
    assert re.search(r"│\s+--schema\s+<str>\s+A schema to include", _help("snapshot"))


def test_every_choice_is_listed() -> None:
    text = _help("apply")
    assert "version|physical" in _row(text, "--mode")
    assert "text|json" in _row(text, "--format")


@pytest.mark.parametrize(
    ("option", "default"),
    [
        ("--lock-timeout-ms", "500 ms"),
        ("--lock-retry-budget-s", "30 s"),
        ("--batch-size", "1000 rows"),
        ("--target-batch-ms", "100 ms"),
        ("--mode", "version"),
        ("--verify", "--verify"),
        ("--format", "text"),
    ],
)
def test_every_default_is_shown(option: str, default: str) -> None:
    row = _row(_help("apply"), option)
    assert f"[default: {default}]" in row, row


def test_the_global_options_say_their_defaults() -> None:
    text = _help()
    assert "Default: $ZDMIGRATE_DATABASE_URL, then $DATABASE_URL." in _row(text, "--database-url")
    assert "Default: the nearest one, in the working folder or above." in _row(text, "--config")
    assert "Default: [tool.zdmigrate] schema, else public" in _row(text, "--schema")


def test_lint_help_looks_like_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[1] == " Usage: zdmigrate lint [OPTIONS] [PATH...]"
    assert "╭─ Arguments" in text and "╭─ Options" in text
    assert "<bool>" not in text
    assert re.search(r"--format\s+-f\s+<text\|json\|sarif\|github>", text)
    flat = " ".join(text.split())
    assert "[default: text]" in flat and "[default: warning]" in flat
    assert re.search(r"--help\s+-h\s+Show this message and exit\.", text)
    url = _row(text, "--database-url")
    assert url.startswith("--database-url <str> PostgreSQL URL"), url
    assert "the global option before 'lint' too" in url


def test_lint_help_through_the_typer_app_is_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    direct = capsys.readouterr().out
    res = zdm("lint", "--help")
    assert res.exit_code == 0
    assert res.stdout == direct


def test_lint_help_fits_a_narrow_terminal() -> None:
    env = {"COLUMNS": "60", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", "from zdmigrate.cli.main import main; main(['lint', '--help'])"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert max(len(line) for line in out.splitlines() if line.startswith(("│", "╭", "╰"))) == 60
    assert "--database-url" in out


def test_schema_file_has_one_type_everywhere() -> None:
    """validate, plan and lint take the same --schema-file: a path in each help."""
    for text in (_help("validate"), _help("plan"), _lint_help()):
        assert re.search(r"│\s+--schema-file\s+<path>\s", text), text


@pytest.mark.parametrize("width", range(60, 131, 2))
def test_lint_help_never_splits_an_option_at_its_hyphen(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'--no-transaction' stays whole on a line, as rich keeps it in the other commands."""
    monkeypatch.setenv("COLUMNS", str(width))
    text = _lint_help()
    assert not re.search(r"[a-z]-\s*│$", text, re.MULTILINE), text
    assert "--no-transaction" in text
