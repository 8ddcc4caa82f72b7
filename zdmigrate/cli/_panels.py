"""``zdmigrate lint --help`` in the look of every other command's help, without rich.

Lint parses its options with argparse so that it starts fast (no typer, no rich);
this draws argparse's options the way typer draws the rest: a usage line, the
description, then an "Arguments" and an "Options" panel. An argument is spelt the
same in the usage line and its row (``PATH...``), followed by its value's type; an
option's row is the long option, the short one, the value's type (none for a flag,
the choices when there are some) and the help with its default.
"""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Sequence

__all__ = ["render_help", "value_type"]

# argparse metavar -> the type name typer shows for such an option
_TYPES = {"N": "int", "URL": "str", "FILE": "path", "RULE": "str", "GLOB": "str", "PATH": "path"}


def value_type(action: argparse.Action) -> str:
    """The type shown after an option (``<int>``), or its choices; empty for a flag."""
    if action.nargs == 0:
        return ""
    if action.choices is not None:
        return "<" + "|".join(str(c) for c in action.choices) + ">"
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    return f"<{_TYPES.get(metavar, metavar.lower() or 'str')}>"


def _spelling(action: argparse.Action) -> str:
    """An argument's name as the usage line and the table both show it: ``PATH...``."""
    name = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    return name + ("..." if action.nargs in ("*", "+") else "")


def _help(action: argparse.Action, defaults: dict[str, str]) -> str:
    text = (action.help or "").strip()
    text = text[:1].upper() + text[1:]
    if text and not text.endswith("."):
        text += "."
    shown = defaults.get(action.dest)
    # the default stays on one line (textwrap does not break at a no-break space)
    return f"{text}  [default:\u00a0{shown}]" if shown is not None else text


def _panel(title: str, rows: list[list[str]], width: int) -> list[str]:
    inner = width - 4  # "│ " and " │"
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(len(rows[0]) - 1)]
    lead = sum(w + 2 for w in widths if w)
    below = inner - lead < 24  # too narrow: the help goes under its option, indented
    if below:
        lead = 4
    out = ["╭─ " + title + " " + "─" * max(width - len(title) - 5, 0) + "╮"]
    for row in rows:
        cells = "".join(c.ljust(w + 2) for c, w in zip(row, widths, strict=False) if w)
        wrapped = textwrap.wrap(row[-1], inner - lead, break_on_hyphens=False) or [""]
        if below:
            out.append("│ " + cells.rstrip().ljust(inner)[:inner] + " │")
        for index, part in enumerate(wrapped):
            start = cells if index == 0 and not below else " " * lead
            line = (start + part).replace("\u00a0", " ")
            out.append("│ " + line.ljust(inner)[:inner] + " │")
    out.append("╰" + "─" * (width - 2) + "╯")
    return out


def _paragraphs(text: str, width: int) -> list[str]:
    out: list[str] = []
    for para in text.strip().split("\n\n"):
        lines = para.splitlines()
        if any(line.startswith("  ") for line in lines):  # examples: keep their lines
            out += [" " + line for line in lines]
        else:
            out += [
                " " + line
                for line in textwrap.wrap(" ".join(lines), width - 2, break_on_hyphens=False)
            ]
        out.append("")
    return out


def render_help(
    prog: str,
    description: str,
    epilog: str,
    actions: Sequence[argparse.Action],
    defaults: dict[str, str],
) -> str:
    """The help of ``prog`` for the terminal's width (``$COLUMNS``), as typer lays it out."""
    width = shutil.get_terminal_size((80, 24)).columns
    arguments = [a for a in actions if not a.option_strings]
    options = [a for a in actions if a.option_strings]
    usage = f" Usage: {prog} [OPTIONS]" + "".join(
        f" {_spelling(a)}" if a.nargs in (None, "+") else f" [{_spelling(a)}]" for a in arguments
    )
    lines = ["", usage, "", *_paragraphs(description, width), *_paragraphs(epilog, width)]
    if arguments:
        rows = [["", _spelling(a), value_type(a), _help(a, defaults)] for a in arguments]
        lines += _panel("Arguments", rows, width)
    rows = []
    for action in options:
        longs = [o for o in action.option_strings if o.startswith("--")]
        shorts = [o for o in action.option_strings if not o.startswith("--")]
        rows.append(
            [",".join(longs), ",".join(shorts), value_type(action), _help(action, defaults)]
        )
    lines += _panel("Options", rows, width)
    return "\n".join(lines) + "\n"
