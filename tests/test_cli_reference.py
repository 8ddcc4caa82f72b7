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


def test_the_reference_spells_arguments_and_defaults_as_help_does() -> None:
    """An argument is named as --help names it (FILE..., not the parameter's FILES...), and
    lint's defaults are the ones its --help shows."""
    text = reference()
    assert "Usage: `zdmigrate [GLOBAL OPTIONS] apply [OPTIONS] FILE...`" in text
    assert "| `FILE...` | required | Migration files, or folders of them" in text
    assert "FILES" not in text
    assert "| `--fail-on` | `info` \\| `warning` \\| `error` | `warning` |" in text
    assert "| `-j`, `--jobs` | `INTEGER` | `0` |" in text
    assert "| `--schema-file` | `PATH` |" in text.split("## zdmigrate validate")[0]  # lint's
