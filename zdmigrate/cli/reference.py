"""The command-line reference (docs/cli.md), generated from the CLI itself.

    python -m zdmigrate.cli.reference > docs/cli.md

Every command, argument and option comes from the typer app (names, help, defaults)
and the types from the commands' signatures; ``lint``'s options from its own argparse
parser. ``tests/test_cli_reference.py`` fails when docs/cli.md differs from this.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from zdmigrate.cli import _panels, lint_cmd
from zdmigrate.cli.app import app

__all__ = ["REGENERATE", "reference"]

REGENERATE = "python -m zdmigrate.cli.reference > docs/cli.md"

_NAMES = {Path: "PATH", int: "INTEGER", float: "NUMBER", str: "TEXT"}


def _cell(text: str) -> str:
    """Text for a markdown table cell: rich's escapes undone, pipes escaped."""
    return " ".join(text.replace("\\[", "[").split()).replace("|", "\\|")


def _base(annotation: Any) -> tuple[Any, bool]:
    """The value type of a parameter's annotation, and whether it is a list."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = args[0]
        args = list(typing.get_args(annotation))
    if typing.get_origin(annotation) is list:
        return args[0], True
    return annotation, False


def _value(annotation: Any) -> str:
    base, _ = _base(annotation)
    if base is bool:
        return ""
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in base)
    return f"`{_NAMES.get(base, 'TEXT')}`"


def _default(param: Any) -> str:
    default = param.default
    if param.show_default is False or default is None or default == [] or default == ():
        return ""
    if isinstance(default, bool):
        return "on" if default else "off"
    return f"`{getattr(default, 'value', default)}`"


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    return typing.get_type_hints(fn, include_extras=True)


def _help(param: Any, hints: dict[str, Any]) -> str:
    """A parameter's help (an argument's from its annotation: not every typer keeps it)."""
    text = getattr(param, "help", None)
    if not text and typing.get_origin(hints[param.name]) is typing.Annotated:
        for meta in typing.get_args(hints[param.name])[1:]:
            text = text or getattr(meta, "help", None)
    return _cell(text or "")


def _repeatable(many: bool, help_text: str) -> str:
    return " (repeatable)" if many and "repeatable" not in help_text else ""


def _option_rows(params: list[Any], hints: dict[str, Any]) -> list[str]:
    rows = []
    for p in params:
        if p.hidden or not p.opts[0].startswith("-"):
            continue
        names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
        text = _help(p, hints)
        value = _value(hints[p.name])
        rows.append(
            f"| {names} | {value} | {_default(p)} | {text}{_repeatable(p.multiple, text)} |"
        )
    if not rows:
        return []
    return ["| option | value | default | meaning |", "|---|---|---|---|", *rows, ""]


def _argument_name(param: Any, hints: dict[str, Any]) -> str:
    """An argument as ``--help`` spells it: its metavar (else its name) in capitals,
    ``...`` when it takes several."""
    _, many = _base(hints[param.name])
    name = str(param.metavar or param.name).upper().removesuffix("...")
    return name + ("..." if many else "")


def _argument_rows(params: list[Any], hints: dict[str, Any]) -> list[str]:
    rows = []
    for p in params:
        if p.opts[0].startswith("-"):
            continue
        name = _argument_name(p, hints)
        need = "required" if p.required else "optional"
        rows.append(f"| `{name}` | {need} | {_help(p, hints)} |")
    if not rows:
        return []
    return ["| argument | | meaning |", "|---|---|---|", *rows, ""]


def _usage(name: str, params: list[Any], hints: dict[str, Any]) -> str:
    args = []
    for p in params:
        if not p.opts[0].startswith("-"):
            args.append(_argument_name(p, hints))
    return " ".join(["zdmigrate [GLOBAL OPTIONS]", name, "[OPTIONS]", *args])


def _prose(help_text: str) -> list[str]:
    """A docstring as markdown: paragraphs as they are, 'Example:' lines as code."""
    out: list[str] = []
    for para in inspect.cleandoc(help_text).split("\n\n"):
        text = " ".join(para.split())
        if text.startswith("Example: "):
            out += ["```sh", text.removeprefix("Example: "), "```", ""]
        elif text:
            out += [text.replace("\\[", "["), ""]
    return out


def _commands() -> list[tuple[str, Callable[..., Any]]]:
    return [
        (info.name or info.callback.__name__.lower().replace("_", "-"), info.callback)
        for info in app.registered_commands
        if info.callback is not None
    ]


def _summary(help_text: str) -> str:
    return _cell(inspect.cleandoc(help_text).split("\n\n")[0])


def _typer_command(name: str, cmd: Any, fn: Callable[..., Any]) -> list[str]:
    hints = _hints(fn)
    out = [f"## zdmigrate {name}", "", *_prose(cmd.help or "")]
    out += [f"Usage: `{_usage(name, cmd.params, hints)}`", ""]
    out += _argument_rows(cmd.params, hints)
    out += _option_rows(cmd.params, hints)
    return out


# the type --help shows after a lint option -> the name of that type in this reference
_LINT_TYPES = {"int": "INTEGER", "str": "TEXT", "path": "PATH"}


def _lint_value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices:
        return " \\| ".join(f"`{c}`" for c in action.choices)
    shown = _panels.value_type(action)  # "<int>", as lint --help shows it
    return f"`{_LINT_TYPES.get(shown.strip('<>'), 'TEXT')}`"


def _lint_command() -> list[str]:
    parser = lint_cmd.build_parser()
    out = ["## zdmigrate lint", "", lint_cmd.SUMMARY, ""]
    epilog = (parser.epilog or "").split("\n\nExamples:\n")
    out += [epilog[0].strip(), ""]
    if len(epilog) > 1:
        out += ["```sh", *[line.strip() for line in epilog[1].strip().splitlines()], "```", ""]
    args = [a for a in parser._actions if not a.option_strings]
    options = [
        a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)
    ]
    usage = " ".join(f"[{a.metavar}...]" if a.nargs == "*" else str(a.metavar) for a in args)
    out += [f"Usage: `zdmigrate [GLOBAL OPTIONS] lint [OPTIONS] {usage}`", ""]
    out += ["| argument | | meaning |", "|---|---|---|"]
    for a in args:
        need = "optional" if a.nargs in ("*", "?") else "required"
        out.append(f"| `{a.metavar}...` | {need} | {_cell(a.help or '')} |")
    out += ["", "| option | value | default | meaning |", "|---|---|---|---|"]
    for a in options:
        names = ", ".join(f"`{o}`" for o in a.option_strings)
        default = lint_cmd.SHOWN_DEFAULTS.get(a.dest, a.default)
        if default in (None, []):
            shown = ""
        elif default is False:
            shown = "off"  # a flag, as the other commands' flags show it
        else:
            shown = f"`{default}`"
        text = _cell(a.help or "")
        many = _repeatable(isinstance(a, argparse._AppendAction), text)
        out.append(f"| {names} | {_lint_value(a)} | {shown} | {text}{many} |")
    return [*out, ""]


def reference() -> str:
    """docs/cli.md."""
    group: Any = typer.main.get_command(app)
    callback = app.registered_callback.callback if app.registered_callback else None
    assert callback is not None
    out = [
        "# Command-line reference",
        "",
        f"<!-- Generated from the CLI by `{REGENERATE}`; do not edit by hand. -->",
        "",
        _cell(group.help or ""),
        "",
        "Usage: `zdmigrate [GLOBAL OPTIONS] COMMAND [ARGS]...`",
        "",
        "Every command takes `-h`/`--help`. Exit codes: 0 success, 1 a finding (lint "
        "violations, a blocked gate, rows that disagree), 2 a usage, input or database "
        "error (docs/configuration.md).",
        "",
        "## Global options",
        "",
        "Given before the command: `zdmigrate --database-url URL status`.",
        "",
        *_option_rows(group.params, _hints(callback)),
        "## Commands",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    commands = _commands()
    for name, _ in commands:
        help_text = lint_cmd.SUMMARY if name == "lint" else group.commands[name].help or ""
        out.append(f"| [`{name}`](#zdmigrate-{name}) | {_summary(help_text)} |")
    out.append("")
    for name, fn in commands:
        if name == "lint":
            out += _lint_command()
        else:
            out += _typer_command(name, group.commands[name], fn)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
