"""Benchmark ``zdmigrate lint`` on a long Alembic history.

Builds a synthetic Alembic project of 1,000 revisions in a temporary folder
(``alembic.ini``, ``env.py``, ``versions/`` with file names that do not sort
in revision order, a few branches and merges, and a mix of ``op.*`` calls:
create_table, add_column, create_index (plain and concurrent in an
autocommit block), alter_column type and nullability changes, renames,
drop_column, foreign keys, unique and check constraints, raw ``op.execute``),
then times, as a user runs them (wall time of the command, best and median of
``--repeat`` runs):

- ``zdmigrate lint versions/<one revision>.py`` (one revision alone inside the
  folder: what pre-commit and a pull request's CI do);
- ``zdmigrate lint <project>`` (every revision, base to head);
- every revision linted alone (``lint_paths([revision])`` once per revision, in
  one process; ``--alone-cli`` runs ``zdmigrate lint <revision>`` once per
  revision instead, as CI does): the time, and the findings summed, which
  must be the findings of the folder run, finding by finding (file, line,
  rule); the benchmark fails if they are not.

It also says where the time of the one-revision run goes (starting Python,
importing the linter, rendering the revision, linting and reporting; and what
importing Alembic and SQLAlchemy would add, which a revision of plain ``op.``
calls does not need), measured in a fresh process, and, with
``--profile``, prints cProfile's top functions for that run. The last line is
a JSON object with the figures.

    python bench/lint_history.py [--revisions 1000] [--repeat 3] [--profile] [--alone-cli]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLES = ["users", "orders", "accounts", "events", "invoices", "payments", "sessions"]

# Each op is a list of lines of upgrade(); {t} a table, {n} a unique number.
OPS = [
    ['op.add_column("{t}", sa.Column("c{n}", sa.Text()))'],
    [
        'op.add_column("{t}", sa.Column("f{n}", sa.Boolean(), nullable=False, '
        "server_default=sa.false()))"
    ],
    ['op.add_column("{t}", sa.Column("r{n}", sa.Integer(), nullable=False))'],
    ['op.create_index("ix_{t}_{n}", "{t}", ["c{n}"])'],
    [
        "with op.get_context().autocommit_block():",
        '    op.create_index("cx_{t}_{n}", "{t}", ["c{n}"], postgresql_concurrently=True)',
    ],
    ['op.alter_column("{t}", "v{n}", type_=sa.BigInteger())'],
    ['op.alter_column("{t}", "s{n}", type_=sa.Text(), existing_type=sa.String(50))'],
    ['op.alter_column("{t}", "w{n}", nullable=False)'],
    ['op.alter_column("{t}", "old{n}", new_column_name="new{n}")'],
    ['op.drop_column("{t}", "legacy{n}")'],
    ['op.create_foreign_key("fk_{t}_{n}", "{t}", "users", ["u{n}"], ["id"])'],
    ['op.create_unique_constraint("uq_{t}_{n}", "{t}", ["k{n}"])'],
    ['op.create_check_constraint("ck_{t}_{n}", "{t}", "c{n} <> \'\'")'],
    ['op.execute("UPDATE {t} SET c{n} = lower(c{n}) WHERE id < {n}")'],
    ['op.drop_index("ix_{t}_{n}", table_name="{t}")'],
]


def _create_table(name: str) -> list[str]:
    return [
        "op.create_table(",
        f'    "{name}",',
        '    sa.Column("id", sa.BigInteger(), primary_key=True),',
        '    sa.Column("name", sa.Text(), nullable=False),',
        '    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),',
        ")",
        f'op.create_index("ix_{name}_name", "{name}", ["name"])',
    ]


def _script(rev: str, down: str | tuple[str, ...] | None, body: list[str]) -> str:
    lines = "\n".join(f"    {line}" for line in body) or "    pass"
    return (
        f'"""Synthetic revision {rev}."""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{lines}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )


def _body(rng: random.Random, number: int, tables: list[str]) -> list[str]:
    if number % 25 == 0:
        name = f"t{number:04d}"
        tables.append(name)
        return _create_table(name)
    body = ["op.execute(\"SET lock_timeout = '500ms'\")"] if rng.random() < 0.5 else []
    for i in range(rng.randint(1, 4)):
        for line in rng.choice(OPS):
            body.append(line.format(t=rng.choice(tables), n=number * 10 + i))
    return body


def make_history(versions: Path, revisions: int, seed: int = 14) -> list[Path]:
    """``revisions`` scripts: a chain with a branch and its merge every 200 revisions."""
    rng = random.Random(seed)
    tables = list(TABLES)
    paths: list[Path] = []
    down: str | tuple[str, ...] | None = None
    number = 0
    while number < revisions:
        rev = f"{rng.getrandbits(48):012x}"
        if number % 200 == 150 and number + 3 <= revisions:
            left, right = rev, f"{rng.getrandbits(48):012x}"
            for branch in (left, right):
                paths.append(_write(versions, branch, down, _body(rng, number, tables)))
                number += 1
            rev, down = f"{rng.getrandbits(48):012x}", (left, right)
        paths.append(_write(versions, rev, down, _body(rng, number, tables)))
        down = rev
        number += 1
    return paths


def _write(versions: Path, rev: str, down: str | tuple[str, ...] | None, body: list[str]) -> Path:
    path = versions / f"{rev}_step.py"
    path.write_text(_script(rev, down, body))
    return path


def make_project(root: Path, revisions: int) -> list[Path]:
    (root / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
    (root / "env.py").write_text("raise RuntimeError('lint never runs env.py')\n")
    return make_history(root / "versions", revisions)


ZDM = [sys.executable, "-m", "zdmigrate", "lint", "--format", "json"]
# Every command runs from the temporary folder: ``python -m`` puts the working
# directory first on sys.path, so run from a checkout it would import that
# checkout's zdmigrate whatever --compare says (and read its pyproject.toml).
NEUTRAL = tempfile.gettempdir()
# Installed with pip, zdmigrate's modules are compiled to bytecode. An environment that
# sets PYTHONDONTWRITEBYTECODE would make every command compile a checkout's modules
# again (about 0.1 s more to import the linter): the children cache bytecode, and
# main() runs the one-revision command once, untimed, before timing anything.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    cmd: list[str], repeat: int, src: str | None = None
) -> tuple[dict[str, float | int], list[tuple[str, int, str]]]:
    """Best and median wall time of ``cmd``, its best CPU time (user + system: less
    moved by other work on the machine), and the findings of its JSON report (their
    number among the figures, and the findings themselves).
    ``src``: run the zdmigrate in that source folder instead (PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": src} if src else None
    walls, cpus = [], []
    findings: list[tuple[str, int, str]] = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _cpu()
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, env=env, cwd=NEUTRAL
        )
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
        if done.returncode not in (0, 1):
            raise SystemExit(f"zdmigrate lint failed ({done.returncode}): {done.stderr[-500:]}")
        findings = _found(done.stdout)
    return {
        "s": min(walls),
        "median_s": statistics.median(walls),
        "cpu_s": min(cpus),
        "findings": len(findings),
    }, findings


def _found(report: str) -> list[tuple[str, int, str]]:
    """(file name, line, rule) of every finding of a JSON report, sorted."""
    return sorted(
        (Path(f["path"]).name, f["line"], f["rule"]) for f in json.loads(report)["findings"]
    )


def _named(prefix: str, figures: dict[str, float | int]) -> dict[str, float | int]:
    return {f"{prefix}_{key}": value for key, value in figures.items()}


ALONE = """
import json, sys, time
from pathlib import Path
from zdmigrate._imports import paused_gc
with paused_gc():
    from zdmigrate.lint import LintSettings, lint_paths
found = []
start = time.perf_counter()
for script in sorted(Path(sys.argv[1]).glob("*.py")):
    result = lint_paths([str(script)], LintSettings(), jobs=1)
    found.extend([Path(f.path).name, f.line, f.rule] for f in result.findings)
print(json.dumps({"s": time.perf_counter() - start, "findings": found}))
"""


def alone(versions: Path, cli: bool) -> tuple[float, list[tuple[str, int, str]]]:
    """Every revision of ``versions`` linted alone: the time it took, and the findings."""
    if not cli:
        out = subprocess.run(
            [sys.executable, "-c", ALONE, str(versions)],
            capture_output=True,
            text=True,
            check=True,
            cwd=NEUTRAL,
        ).stdout
        data = json.loads(out)
        return data["s"], sorted((name, line, rule) for name, line, rule in data["findings"])
    found: list[tuple[str, int, str]] = []
    start = time.perf_counter()
    for script in sorted(versions.glob("*.py")):
        found.extend(timed([*ZDM, str(script)], 1)[1])
    return time.perf_counter() - start, sorted(found)


PHASES = """
import sys, time
start = time.perf_counter()
from pathlib import Path
from zdmigrate._imports import paused_gc
with paused_gc():
    from zdmigrate.lint import LintSettings, lint_paths
    from zdmigrate.lint.report import render
t1 = time.perf_counter()
from zdmigrate.alembic import render as alembic_render
alembic_render.render_script(Path(sys.argv[1]))
t2 = time.perf_counter()
render(lint_paths([sys.argv[1]], LintSettings(), jobs=1), "json")
t3 = time.perf_counter()
imported = "alembic" in sys.modules
alembic_render._import_alembic()
t4 = time.perf_counter()
print(t1 - start, t2 - t1, t3 - t2, t4 - t3, int(imported))
"""


def phases(script: Path, repeat: int) -> dict[str, float]:
    """Where one revision's run goes, best of ``repeat`` fresh processes.

    The lint phase renders the revision a second time (lint_paths renders it
    again), so it is an upper bound of render + lint + report. A revision made of
    plain ``op.`` calls is rendered without importing Alembic and SQLAlchemy
    (``alembic_imported`` 0); their import, timed last, is what a revision that
    falls back to being imported pays on top."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, cwd=NEUTRAL)
        python = time.perf_counter() - start
        out = subprocess.run(
            [sys.executable, "-c", PHASES, str(script)],
            capture_output=True,
            text=True,
            check=True,
            cwd=NEUTRAL,
        ).stdout.split()
        runs.append([python, *(float(v) for v in out)])
    names = ["python_start_s", "import_linter_s", "render_s", "lint_s", "import_alembic_s"]
    figures = {name: min(run[i] for run in runs) for i, name in enumerate(names)}
    figures["alembic_imported"] = max(int(run[5]) for run in runs)
    return figures


def profile(script: Path) -> None:
    code = (
        "import cProfile, pstats, sys\n"
        "from zdmigrate.cli.lint_cmd import run\n"
        "cProfile.run('run([sys.argv[1], \"--format\", \"json\"])', 'p.out')\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", code, str(script)], cwd=tmp, capture_output=True)
        stats = pstats_text(Path(tmp) / "p.out")
    print(stats)


def pstats_text(path: Path) -> str:
    import io
    import pstats

    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one revision's run")
    parser.add_argument(
        "--compare", metavar="SRC", help="also time the zdmigrate in this source folder"
    )
    parser.add_argument(
        "--alone-cli",
        action="store_true",
        help="lint each revision alone with its own zdmigrate lint process (slow)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zdm-lint-history-") as tmp:
        root = Path(tmp) / "migrations"
        scripts = make_project(root, args.revisions)
        one = scripts[len(scripts) // 2 + 1]  # not one of the create_table revisions
        timed([*ZDM, str(one)], 1)  # untimed: compiles to bytecode (see NEUTRAL)
        if args.compare:
            timed([*ZDM, str(one)], 1, args.compare)
        folder, in_folder = timed([*ZDM, str(root)], args.repeat)
        alone_s, each_alone = alone(root / "versions", args.alone_cli)
        if each_alone != in_folder:
            missing = sorted(set(in_folder) - set(each_alone))[:5]
            extra = sorted(set(each_alone) - set(in_folder))[:5]
            raise SystemExit(f"alone and in the folder differ: {missing} / {extra}")
        figures: dict[str, float | int] = {
            "revisions": len(scripts),
            **_named("one_revision", timed([*ZDM, str(one)], args.repeat)[0]),
            **_named("folder", folder),
            "each_alone_s": alone_s,
            "each_alone_findings": len(each_alone),
            "each_alone_equals_folder": 1,
            **phases(one, args.repeat),
        }
        if args.compare:
            figures.update(
                _named(
                    "compare_one_revision", timed([*ZDM, str(one)], args.repeat, args.compare)[0]
                )
            )
            figures.update(
                _named("compare_folder", timed([*ZDM, str(root)], args.repeat, args.compare)[0])
            )
        if args.profile:
            profile(one)
    for key, value in figures.items():
        print(f"{key:>30}: {value:,.3f}" if isinstance(value, float) else f"{key:>30}: {value}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
