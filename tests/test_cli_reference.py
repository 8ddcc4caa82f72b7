"""docs/cli.md is generated from the CLI (zdmigrate/cli/reference.py): it cannot drift."""

from __future__ import annotations

from pathlib import Path

from zdmigrate.cli.reference import REGENERATE, reference

DOC = Path(__file__).parents[1] / "docs" / "cli.md"


def test_docs_cli_md_is_up_to_date() -> None:
    assert DOC.read_text() == reference(), (
        f"docs/cli.md is stale (a command, option or help text changed): "
        f"regenerate it with `{REGENERATE}`"
    )


def test_the_reference_has_every_command_and_lints_own_options() -> None:
    text = reference()
    for command in ("lint", "validate", "plan", "apply", "gate", "complete", "rollback"):
        assert f"\n## zdmigrate {command}\n" in text
    assert "| `--fail-on` | `info` \\| `warning` \\| `error` |" in text  # from lint's argparse
    assert "| `--verify`, `--no-verify` |" in text
