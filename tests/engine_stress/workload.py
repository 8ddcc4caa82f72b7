"""What the engine stress tests share: tables, migrations, app writers, checks, the CLI.

The old app writes the physical table; the new app writes the version schema's
view (``SET search_path = public_<migration>, public``). Writers keep a book
of every committed write: per key, the physical row it must end up as (old
column, shadow column, note), or None once deleted. Writes to one key are
serialised by a striped lock held across the statement, so the book's order
is the commit order. ``verify`` compares the table with the book and checks
new = up(old) (or old = down(new) for values the new app wrote last) on the
physical columns.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

MARKER = "_zdm_needs_backfill"
INSERT_BASE = 1_000_000
Row = tuple[Any, Any, str]  # (old column, shadow column, note)


@dataclass(frozen=True)
class Scenario:
    """A table, a column change on it, and that change's up/down in SQL and Python."""

    migration: str
    table: str
    column_type: str
    migration_yaml: str
    old_col: str
    view_col: str
    shadow: str
    initial_sql: str  # the old column's value of initial row g
    up_sql: str  # physical columns: the shadow column from the old one
    down_sql: str  # physical columns: the old column from the shadow one
    initial: Callable[[int], Any]
    up: Callable[[Any], Any]
    down: Callable[[Any], Any]
    old_value: Callable[[random.Random, int], Any]
    new_value: Callable[[random.Random, int], Any]
    flood_old_sql: str = ""  # the old column of flood-inserted row g (old app)
    flood_new_sql: str = ""  # the view column of flood-inserted row g (new app)
    flood_old: Callable[[int], Any] | None = None
    flood_new: Callable[[int], Any] | None = None
    mode: str = "version"  # physical: the new app writes the new column by its physical name

    @property
    def physical(self) -> bool:
        return self.mode == "physical"

    @property
    def version_schema(self) -> str:
        return f"public_{self.migration}"

    def initial_row(self, key: int) -> Row:
        old = self.initial(key)
        return (old, self.up(old), "init")


def _md5_prefix(g: int) -> str:
    return hashlib.md5(str(g).encode()).hexdigest()[: 1 + g % 29]


# text -> integer with up = length(code), down = (code * 10)::text: up(down(x)) != x,
# so a value the new app wrote is corrupted if the backfill recomputes it from the old column.
LOSSY = Scenario(
    migration="m_code_int",
    table="items",
    column_type="text",
    migration_yaml="""\
description: code becomes an integer; up(down(x)) != x on purpose.
operations:
  - alter_column:
      table: items
      column: code
      type: integer
      up: length(code)
      down: (code * 10)::text
""",
    old_col="code",
    view_col="code",
    shadow="_zdm_code",
    initial_sql="substr(md5(g::text), 1, 1 + mod(g, 29))",
    up_sql="length(code)",
    down_sql="(_zdm_code * 10)::text",
    initial=_md5_prefix,
    up=len,
    down=lambda n: str(n * 10),
    # old values are unique and start with a letter, new ones are >= 100 (longer than any
    # old value): no write repeats the value already stored (a no-op for the trigger)
    old_value=lambda rng, k: f"o{k}-{rng.getrandbits(40):x}-" + "x" * rng.randint(0, 30),
    new_value=lambda rng, k: rng.randint(100, 1_000_000),
    flood_old_sql="'f' || g",
    flood_new_sql="100 + mod(g, 1000)",
    flood_old=lambda g: f"f{g}",
    flood_new=lambda g: 100 + g % 1000,
)

# integer -> bigint under a new name, in cents: up(down(x)) = x for what the new app writes,
# so new = up(old) must hold for every row.
ROUNDTRIP = Scenario(
    migration="m_amount_cents",
    table="accounts",
    column_type="integer",
    migration_yaml="""\
description: amount becomes amount_cents (bigint).
operations:
  - alter_column:
      table: accounts
      column: amount
      name: amount_cents
      type: bigint
      up: amount::bigint * 100
      down: (amount_cents / 100)::integer
""",
    old_col="amount",
    view_col="amount_cents",
    shadow="_zdm_amount_cents",
    initial_sql="mod(g * 37, 100000)",
    up_sql="amount::bigint * 100",
    down_sql="(_zdm_amount_cents / 100)::integer",
    initial=lambda g: (g * 37) % 100_000,
    up=lambda x: x * 100,
    down=lambda n: n // 100,
    old_value=lambda rng, k: rng.randint(0, 10_000_000),
    new_value=lambda rng, k: rng.randint(0, 10_000_000) * 100,
)


# physical mode: a new NOT NULL column filled by up for old writers and existing rows; the
# new app writes it itself (any value, not length(code)), found out by the column it wrote.
PHYSICAL_ADD = Scenario(
    migration="m_code_len",
    table="items",
    column_type="text",
    migration_yaml="""\
description: a code_len column, physical mode.
operations:
  - add_column:
      table: items
      column: {name: code_len, type: integer, nullable: false}
      up: length(code)
""",
    old_col="code",
    view_col="code_len",
    shadow="code_len",
    initial_sql=LOSSY.initial_sql,
    up_sql="length(code)",
    down_sql="",
    initial=_md5_prefix,
    up=len,
    down=lambda n: None,
    old_value=LOSSY.old_value,
    new_value=LOSSY.new_value,
    mode="physical",
)


def create_table(conn: psycopg.Connection[Any], sc: Scenario, rows: int) -> None:
    table = sql.Identifier(sc.table)
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (id bigint PRIMARY KEY, {} {} NOT NULL, note text NOT NULL)"
        ).format(table, sql.Identifier(sc.old_col), sql.SQL(sc.column_type))
    )
    conn.execute(
        sql.SQL("INSERT INTO {} SELECT g, {}, 'init' FROM generate_series(1, %s) AS g").format(
            table, sql.SQL(sc.initial_sql)
        ),
        (rows,),
    )
    conn.execute(sql.SQL("ANALYZE {}").format(table))


def write_migration(folder: Path, sc: Scenario) -> Path:
    path = folder / f"{sc.migration}.yaml"
    path.write_text(sc.migration_yaml, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the CLI, as a process


def _env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("ZDMIGRATE_DATABASE_URL", "DATABASE_URL")
    }
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def cli_argv(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "zdmigrate", "--database-url", url, *args]


def run_cli(
    url: str, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_argv(url, *args),
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class CliProcess:
    """A zdmigrate command running in the background; output goes to files."""

    def __init__(self, url: str, *args: str, cwd: Path, tag: str) -> None:
        self.out_path = cwd / f"{tag}.out"
        self.err_path = cwd / f"{tag}.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                cli_argv(url, *args), cwd=cwd, env=_env(), stdout=out, stderr=err
            )

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"zdmigrate did not finish in {timeout} s:\n{self.output()}"
            ) from None

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def output(self) -> str:
        return f"stdout:\n{self.out_path.read_text()}\nstderr:\n{self.stderr}"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def zdmigrate_backends(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name IN ('zdmigrate', 'zdmigrate-backfill') AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(row[0]) if row else 0


def waiting_for_lock(conn: psycopg.Connection[Any], table: str | None = None) -> bool:
    """Whether a zdmigrate session waits for a lock (on ``table``, if given)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.application_name = 'zdmigrate' "
        "AND a.datname = current_database() "
        "AND (%(t)s::text IS NULL OR l.relation = to_regclass(%(t)s::text))",
        {"t": table},
    ).fetchone()
    return bool(row and row[0])


def checkpoint(conn: psycopg.Connection[Any], migration: str) -> dict[str, Any] | None:
    """The backfill checkpoint of ``migration`` (None before the backfill starts)."""
    try:
        row = conn.execute(
            "SELECT last_key, upper_key, rows_done, status, updated_at, walk "
            "FROM zdmigrate.backfill_checkpoints WHERE migration = %s",
            (migration,),
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    if row is None:
        return None
    last = int(row[0][0]) if row[0] else 0
    upper = int(row[1][0]) if row[1] else None
    return {
        "last": last,
        "upper": upper,
        "rows_done": row[2],
        "status": row[3],
        "at": row[4],
        "walk": row[5],
    }


def phase(conn: psycopg.Connection[Any], migration: str) -> str | None:
    try:
        row = conn.execute(
            "SELECT phase FROM zdmigrate.migrations WHERE name = %s", (migration,)
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return str(row[0]) if row else None


# ---------------------------------------------------------------- writers and their book


@dataclass
class Write:
    at: float  # time.monotonic() once the commit returned
    version: str
    op: str
    key: int


@dataclass
class Book:
    """Every committed write, per key: the physical row it leaves, or None once deleted."""

    sc: Scenario
    initial_rows: int
    state: dict[int, Row | None] = field(default_factory=dict)
    new_wrote: set[int] = field(default_factory=set)  # keys whose value the new app wrote last
    inserted: list[int] = field(default_factory=list)
    floods: list[tuple[str, int, int]] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stripes: list[threading.Lock] = field(
        default_factory=lambda: [threading.Lock() for _ in range(64)]
    )
    _keys: Iterator[int] = field(default_factory=lambda: itertools.count(INSERT_BASE))
    _keys_lock: threading.Lock = field(default_factory=threading.Lock)

    def new_key(self) -> int:
        with self._keys_lock:
            return next(self._keys)

    def new_keys(self, n: int) -> tuple[int, int]:
        with self._keys_lock:
            first = next(self._keys)
            for _ in range(n - 1):
                next(self._keys)
            return first, first + n - 1

    @contextmanager
    def key_lock(self, key: int) -> Iterator[None]:
        with self._stripes[key % len(self._stripes)]:
            yield

    def current(self, key: int) -> Row | None:
        if key in self.state:
            return self.state[key]
        if 1 <= key <= self.initial_rows:
            return self.sc.initial_row(key)
        return None


def _pick_key(book: Book, rng: random.Random) -> int:
    if book.inserted and rng.random() < 0.2:
        return rng.choice(book.inserted)
    return rng.randint(1, book.initial_rows)


def _view_exists(conn: psycopg.Connection[Any], sc: Scenario) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (f"{sc.version_schema}.{sc.table}",)).fetchone()
    return bool(row and row[0])


def _physical_ready(conn: psycopg.Connection[Any], sc: Scenario) -> bool:
    """The new column and the dual-write trigger both exist: expand is done for the table.
    (A physical-mode app that writes the new column before the trigger exists is not
    protected: its row is still marked for the backfill, which recomputes the column.)"""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%(t)s) "
        "AND attname = %(c)s AND NOT attisdropped), "
        "(SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(%(t)s) "
        "AND tgname LIKE '\\_zdm\\_trg\\_%%')",
        {"t": sc.table, "c": sc.view_col},
    ).fetchone()
    return bool(row and row[0] and row[1])


def _connect_as(
    url: str, book: Book, version: str, stop: threading.Event
) -> psycopg.Connection[Any] | None:
    conn = psycopg.connect(url, autocommit=True, application_name=f"app-{version}")
    if version == "new" and book.sc.physical:
        while not _physical_ready(conn, book.sc):
            if stop.is_set():
                conn.close()
                return None
            time.sleep(0.01)
    elif version == "new":
        while not _view_exists(conn, book.sc):
            if stop.is_set():
                conn.close()
                return None
            time.sleep(0.01)
        conn.execute(
            sql.SQL("SET search_path = {}, public").format(sql.Identifier(book.sc.version_schema))
        )
    return conn


WEIGHTS = {"insert": 2, "update": 5, "note": 2, "delete": 1}


def writer(
    url: str,
    book: Book,
    version: str,
    seed: int,
    ops: dict[str, int],
    stop: threading.Event,
) -> None:
    """Random single-row INSERT/UPDATE/DELETE as the ``version`` app until ``stop``."""
    try:
        conn = _connect_as(url, book, version, stop)
        if conn is None:
            return
        with conn:
            _write_loop(conn, book, version, random.Random(seed), stop, ops)
    except Exception as exc:  # reported by the test
        book.errors.append(f"{version} writer: {type(exc).__name__}: {exc}")


def _write_loop(
    conn: psycopg.Connection[Any],
    book: Book,
    version: str,
    rng: random.Random,
    stop: threading.Event,
    ops: dict[str, int],
) -> None:
    sc = book.sc
    table = sql.Identifier(sc.table)
    col = sql.Identifier(sc.old_col if version == "old" else sc.view_col)
    names, weights = list(ops), list(ops.values())
    n = 0
    while not stop.is_set():
        n += 1
        op = rng.choices(names, weights)[0]
        key = book.new_key() if op == "insert" else _pick_key(book, rng)
        with book.key_lock(key):
            row = book.current(key)
            if op != "insert" and row is None:
                continue
            note = f"{version}-{n}"
            if op in ("insert", "update"):
                if version == "old":
                    old = sc.old_value(rng, key)
                    value, expect = old, (old, sc.up(old), note if op == "insert" else "")
                else:
                    new = sc.new_value(rng, key)
                    value, expect = new, (sc.down(new), new, note if op == "insert" else "")
                if op == "insert" and version == "new" and sc.physical:
                    old = f"n{key}-{rng.getrandbits(40):x}"  # the new app writes both columns
                    expect = (old, value, note)
                    conn.execute(
                        sql.SQL("INSERT INTO {} (id, {}, {}, note) VALUES (%s, %s, %s, %s)").format(
                            table, sql.Identifier(sc.old_col), col
                        ),
                        (key, old, value, note),
                    )
                elif op == "insert":
                    conn.execute(
                        sql.SQL("INSERT INTO {} (id, {}, note) VALUES (%s, %s, %s)").format(
                            table, col
                        ),
                        (key, value, note),
                    )
                else:
                    assert row is not None
                    keeps_old = version == "new" and sc.physical
                    expect = (row[0] if keeps_old else expect[0], expect[1], row[2])
                    _one_row(
                        conn.execute(
                            sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(table, col),
                            (value, key),
                        ),
                        op,
                        key,
                    )
                book.state[key] = expect
                if version == "new":
                    book.new_wrote.add(key)
                else:
                    book.new_wrote.discard(key)
                if op == "insert":
                    book.inserted.append(key)
            elif op == "note":
                assert row is not None
                _one_row(
                    conn.execute(
                        sql.SQL("UPDATE {} SET note = %s WHERE id = %s").format(table), (note, key)
                    ),
                    op,
                    key,
                )
                book.state[key] = (row[0], row[1], note)
            else:
                _one_row(
                    conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (key,)),
                    op,
                    key,
                )
                book.state[key] = None
                book.new_wrote.discard(key)
            book.writes.append(Write(time.monotonic(), version, op, key))


def _one_row(cur: psycopg.Cursor[Any], op: str, key: int) -> None:
    if cur.rowcount != 1:
        raise AssertionError(f"{op} of key {key} touched {cur.rowcount} rows, expected 1")


def flooder(url: str, book: Book, version: str, chunk: int, stop: threading.Event) -> None:
    """INSERT ``chunk`` rows per statement, keys above everything, as fast as it can."""
    try:
        conn = _connect_as(url, book, version, stop)
        if conn is None:
            return
        sc = book.sc
        expr = sc.flood_old_sql if version == "old" else sc.flood_new_sql
        col = sc.old_col if version == "old" else sc.view_col
        query = sql.SQL(
            "INSERT INTO {} (id, {}, note) SELECT g, {}, 'flood' FROM generate_series(%s, %s) AS g"
        ).format(sql.Identifier(sc.table), sql.Identifier(col), sql.SQL(expr))
        with conn:
            while not stop.is_set():
                lo, hi = book.new_keys(chunk)
                conn.execute(query, (lo, hi))
                book.floods.append((version, lo, hi))
                book.writes.append(Write(time.monotonic(), version, "flood", hi))
    except Exception as exc:
        book.errors.append(f"{version} flooder: {type(exc).__name__}: {exc}")


class Threads:
    """Start app threads; ``stop()`` ends and joins them."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=(*args, self.event), daemon=True)
        self.threads.append(t)
        t.start()

    def stop(self) -> None:
        self.event.set()
        for t in self.threads:
            t.join(timeout=30)
            assert not t.is_alive(), "an app thread did not stop"


class Monitor(threading.Thread):
    """Samples the backfill checkpoint to tell which writes raced ahead of the backfill.

    The backfill walks blocks (or keys): a write raced ahead of it when the row's block
    when the walk started (or its key) was past the walk's position then."""

    def __init__(self, url: str, migration: str, table: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.migration = migration
        self.samples: list[tuple[float, int, str]] = []  # (time, last position done, status)
        self.halt = threading.Event()
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                sql.SQL("SELECT id, (ctid::text::point)[0]::int FROM {}").format(
                    sql.Identifier(table)
                )
            ).fetchall()
        self.block = dict(rows)  # each row's block before apply
        self.walk = "blocks"

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.halt.is_set():
                cp = checkpoint(conn, self.migration)
                if cp is not None:
                    self.walk = cp["walk"]
                    self.samples.append((time.monotonic(), cp["last"], cp["status"]))
                time.sleep(0.02)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)

    def ahead(self, writes: list[Write], version: str) -> int:
        """Writes of ``version`` to rows the backfill had not reached yet when they committed."""
        count = 0
        times = [s[0] for s in self.samples]
        import bisect

        for w in writes:
            if w.version != version or w.op not in ("update", "note") or w.key >= INSERT_BASE:
                continue
            i = bisect.bisect_left(times, w.at)
            if i < len(self.samples):
                _, last, status = self.samples[i]
                where = self.block[w.key] if self.walk == "blocks" else w.key
                if status == "running" and last < where:
                    count += 1
        return count


# ---------------------------------------------------------------- the checks


def expected_rows(book: Book) -> dict[int, Row]:
    sc = book.sc
    rows: dict[int, Row] = {}
    for key in range(1, book.initial_rows + 1):
        rows[key] = sc.initial_row(key)
    for version, lo, hi in book.floods:
        for g in range(lo, hi + 1):
            if version == "old":
                assert sc.flood_old is not None
                old = sc.flood_old(g)
                rows[g] = (old, sc.up(old), "flood")
            else:
                assert sc.flood_new is not None
                new = sc.flood_new(g)
                rows[g] = (sc.down(new), new, "flood")
    for key, row in book.state.items():
        if row is None:
            rows.pop(key, None)
        else:
            rows[key] = row
    return rows


def new_written_keys(book: Book) -> list[int]:
    keys = set(book.new_wrote)
    for version, lo, hi in book.floods:
        if version == "new":
            keys.update(range(lo, hi + 1))
    return sorted(keys)


def verify(conn: psycopg.Connection[Any], book: Book) -> dict[str, int]:
    """Every committed write is there, nothing else is, and the two columns agree."""
    assert not book.errors, book.errors
    sc = book.sc
    table = sql.Identifier(sc.table)
    found = {
        r[0]: r[1:]
        for r in conn.execute(
            sql.SQL("SELECT id, {}, {}, note, {} FROM {}").format(
                sql.Identifier(sc.old_col), sql.Identifier(sc.shadow), sql.Identifier(MARKER), table
            )
        ).fetchall()
    }
    expected = expected_rows(book)
    problems: list[str] = []
    for key, row in expected.items():
        got = found.get(key)
        if got is None:
            problems.append(f"key {key}: missing, expected {row}")
        elif tuple(got[:3]) != row:
            problems.append(f"key {key}: found {tuple(got[:3])}, expected {row}")
        elif got[3]:
            problems.append(f"key {key}: still marked as needing a backfill")
    for key in found.keys() - expected.keys():
        why = "deleted" if book.state.get(key, 0) is None else "never written"
        problems.append(f"key {key}: present but {why}")
    assert not problems, f"{len(problems)} wrong rows, first ones:\n" + "\n".join(problems[:15])

    # the same, stated on the physical columns with the migration's own expressions
    new_keys = new_written_keys(book)
    row = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE k.id IS NULL AND {} IS DISTINCT FROM ({})), "
            "count(*) FILTER (WHERE k.id IS NOT NULL AND {} IS DISTINCT FROM ({})) "
            "FROM {} AS t LEFT JOIN unnest(%s::bigint[]) AS k(id) ON k.id = t.id"
        ).format(
            sql.Identifier(sc.shadow),
            sql.SQL(sc.up_sql),
            sql.Identifier(sc.old_col),
            # without down (physical add_column) the new app writes the old column itself
            sql.SQL(sc.down_sql) if sc.down_sql else sql.Identifier(sc.old_col),
            table,
        ),
        (new_keys,),
    ).fetchone()
    assert row is not None
    assert row[0] == 0, f"{row[0]} rows where new != up(old)"
    assert row[1] == 0, f"{row[1]} rows the new app wrote last where old != down(new)"
    return {"rows": len(found), "new_written": len(new_keys)}
