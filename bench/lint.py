"""Benchmark ``zdmigrate lint`` against squawk on the same generated corpus.

Generates 1,000 migration files (about 12,000 statements) of realistic DDL
and DML, then times, as a user would run them (wall time of the command):

- ``zdmigrate lint DIR`` and ``squawk DIR/*.sql`` on the whole corpus;
- both on a single file (start-up cost dominates);
- the corpus again with ``--jobs 1`` (one process; by default large inputs are
  split over one process per core);
- zdmigrate's lint in-process (no interpreter start-up or imports), with the
  default jobs and with one process;
- importing what ``zdmigrate lint`` imports before it reads a file.

squawk is not a project dependency: ``pip install squawk-cli`` first.
The last line printed is a JSON object with the figures.

    python bench/lint.py [--files 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TEMPLATES = [
    "CREATE TABLE {t}_{n} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());",
    "ALTER TABLE {t} ADD COLUMN c{n} text;",
    "ALTER TABLE {t} ADD COLUMN flag{n} boolean NOT NULL DEFAULT false;",
    "ALTER TABLE {t} ADD COLUMN uid{n} uuid DEFAULT gen_random_uuid();",
    "CREATE INDEX CONCURRENTLY {t}_c{n}_idx ON {t} (c{n});",
    "CREATE INDEX {t}_x{n}_idx ON {t} (x{n});",
    "ALTER TABLE {t} ADD CONSTRAINT {t}_c{n}_check CHECK (char_length(c{n}) < 200) NOT VALID;",
    "ALTER TABLE {t} VALIDATE CONSTRAINT {t}_c{n}_check;",
    "ALTER TABLE {t} ADD CONSTRAINT {t}_o{n}_fkey FOREIGN KEY (o{n}) REFERENCES orders (id);",
    "UPDATE {t} SET c{n} = lower(name) WHERE id BETWEEN {n} AND {n} + 1000;",
    "INSERT INTO audit_log (event, payload) VALUES ('m{n}', '{{\"k\": {n}}}'::jsonb);",
    "COMMENT ON COLUMN {t}.c{n} IS 'added by migration {n}';",
    "ALTER TABLE {t} ALTER COLUMN c{n} SET DEFAULT '';",
    "ALTER TABLE {t} RENAME COLUMN old{n} TO new{n};",
    "ALTER TABLE {t} DROP COLUMN IF EXISTS legacy{n};",
    "ALTER TABLE {t} ALTER COLUMN v{n} TYPE bigint;",
    "ALTER TABLE {t} ALTER COLUMN w{n} SET NOT NULL;",
    "CREATE OR REPLACE VIEW {t}_v{n} AS SELECT id, name FROM {t} WHERE id > {n};",
    "SELECT count(*) FROM {t} WHERE created_at > now() - interval '{n} days';",
]
TABLES = ["users", "orders", "accounts", "events", "invoices", "payments", "sessions"]


def migration(rng: random.Random, number: int, statements: int) -> str:
    lines = [f"-- migration {number:04d}", "SET lock_timeout = '500ms';"]
    for i in range(statements - 1):
        template = rng.choice(TEMPLATES)
        lines.append(template.format(t=rng.choice(TABLES), n=number * 100 + i))
    return "\n".join(lines) + "\n"


def make_corpus(folder: Path, files: int, per_file: int = 12, seed: int = 5) -> int:
    rng = random.Random(seed)
    for number in range(1, files + 1):
        (folder / f"{number:04d}_migration.sql").write_text(migration(rng, number, per_file))
    return files * per_file


def wall(cmd: list[str], repeat: int) -> float:
    """Median wall time of ``cmd`` (exit 0 or 1 means it ran; anything else fails)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-500:]}")
    return statistics.median(times)


def in_process(folder: Path, repeat: int, jobs: int) -> float:
    from zdmigrate.lint import LintSettings, lint_paths

    def once() -> None:
        lint_paths([str(folder)], LintSettings(), jobs=jobs)

    return best(once, repeat)


def best(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def commands(folder: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    zdm = [sys.executable, "-m", "zdmigrate", "lint", "--format", "json"]
    squawk = shutil.which("squawk") or str(Path(sys.executable).parent / "squawk")
    files = sorted(str(p) for p in folder.glob("*.sql"))
    one = files[len(files) // 2]
    sq = [squawk, "--reporter", "json"]
    return [*zdm, str(folder)], [*sq, *files], [*zdm, one], [*sq, one]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zdm-lint-bench-") as tmp:
        folder = Path(tmp)
        statements = make_corpus(folder, args.files)
        zdm_all, sq_all, zdm_one, sq_one = commands(folder)
        figures = {
            "files": args.files,
            "statements": statements,
            "zdmigrate_s": wall(zdm_all, args.repeat),
            "squawk_s": wall(sq_all, args.repeat),
            "zdmigrate_one_file_s": wall(zdm_one, args.repeat),
            "squawk_one_file_s": wall(sq_one, args.repeat),
            "zdmigrate_one_process_s": wall([*zdm_all, "--jobs", "1"], args.repeat),
            "zdmigrate_in_process_s": in_process(folder, args.repeat, jobs=0),
            "zdmigrate_in_process_one_process_s": in_process(folder, args.repeat, jobs=1),
            "zdmigrate_import_only_s": wall(
                [sys.executable, "-c", "import zdmigrate.cli.main, zdmigrate.lint"], args.repeat
            ),
        }
    figures["ratio_vs_squawk"] = figures["zdmigrate_s"] / figures["squawk_s"]
    figures["zdmigrate_statements_per_s"] = statements / figures["zdmigrate_s"]
    figures["squawk_statements_per_s"] = statements / figures["squawk_s"]
    for key, value in figures.items():
        print(f"{key:>28}: {value:,.3f}" if isinstance(value, float) else f"{key:>28}: {value}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
