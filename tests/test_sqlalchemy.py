"""``zdmigrate.sqlalchemy.use_version``: during a rename and a type change (applied, not
completed), an engine on the new version reads and writes through the version schema
with the new names (Core and ORM), a plain engine through the table with the old names,
and each sees the other's writes."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import zdmigrate.sqlalchemy
from tests.alembic.project import sqlalchemy_url
from tests.app_versions import NAME, SCHEMA, InFlight, in_flight, physical
from tests.pgbouncer import pgbouncer
from tests.pgserver import Server
from zdmigrate import commands

__all__ = ["in_flight"]


class NewBase(DeclarativeBase):
    pass


class NewUser(NewBase):
    """The new version's model: no schema, so the search_path finds the version's view."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str]
    score: Mapped[int] = mapped_column(sa.BigInteger)


class OldBase(DeclarativeBase):
    pass


class OldUser(OldBase):
    __tablename__ = "users"
    __table_args__ = {"schema": SCHEMA}  # noqa: RUF012
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    score: Mapped[int]


def test_orm_new_and_old_models_write_side_by_side(in_flight: InFlight) -> None:
    url = sqlalchemy_url(in_flight.app_url)
    new = zdmigrate.sqlalchemy.use_version(sa.create_engine(url), NAME, schema=SCHEMA)
    old = sa.create_engine(url)
    with Session(new) as session:
        session.add(NewUser(id=1001, email_address="new@x.org", score=5))
        user = session.get(NewUser, 1)
        assert user is not None and user.email_address == "u1@x.org"
        user.email_address, user.score = "one@x.org", 11
        session.commit()
    with Session(old) as session:
        session.add(OldUser(id=1002, email="old@x.org", score=6))
        user = session.get(OldUser, 2)
        assert user is not None
        user.email, user.score = "two@x.org", 22
        session.commit()
    # each version reads the other's writes under its own names
    with Session(new) as session:
        assert (session.get(NewUser, 1002).email_address, session.get(NewUser, 2).score) == (  # type: ignore[union-attr]
            "old@x.org",
            22,
        )
    with Session(old) as session:
        assert session.get(OldUser, 1001).email == "new@x.org"  # type: ignore[union-attr]
        assert session.get(OldUser, 1).score == 11  # type: ignore[union-attr]
    # the table holds both shapes in step; the new version's write went through the view
    assert physical(in_flight.migrator_url, 1) == ("one@x.org", 11, 11)
    assert physical(in_flight.migrator_url, 1002) == ("old@x.org", 6, 6)
    assert commands.verify(in_flight.settings, NAME).ok


def test_core_connection_is_on_the_version(in_flight: InFlight) -> None:
    url = sqlalchemy_url(in_flight.app_url)
    engine = zdmigrate.sqlalchemy.use_version(sa.create_engine(url), NAME, schema=SCHEMA)
    with engine.begin() as conn:
        schemas = conn.execute(sa.text("SELECT current_schemas(false)")).scalar()
        version = conn.execute(sa.text("SELECT current_setting('zdmigrate.version')")).scalar()
        app = conn.execute(sa.text("SHOW application_name")).scalar()
        conn.execute(sa.text("UPDATE users SET score = 7 WHERE email_address = 'u5@x.org'"))
    assert schemas == ["shop_0003_users_email_address", "shop"]
    assert version == NAME
    assert app is not None and app.endswith(f"version={NAME}")  # the gate reads it
    assert physical(in_flight.migrator_url, 5) == ("u5@x.org", 7, 7)
    assert commands.verify(in_flight.settings, NAME).ok


def test_transaction_pooling_sets_it_in_each_transaction_only(in_flight: InFlight) -> None:
    """For PgBouncer's transaction pooling: SET LOCAL in each transaction, nothing left
    on the server connection for the next client."""
    url = sqlalchemy_url(in_flight.app_url)
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    zdmigrate.sqlalchemy.use_version(engine, NAME, schema=SCHEMA, pooling="transaction")
    with Session(engine) as session:
        session.get(NewUser, 4).score = 44  # type: ignore[union-attr]
        session.commit()
    raw = engine.raw_connection()  # the same server connection, outside the engine's events
    try:
        cursor = raw.cursor()
        cursor.execute(
            "SELECT current_setting('search_path'), current_setting('zdmigrate.version', true)"
        )
        assert cursor.fetchone() == ('"$user", public', "")
    finally:
        raw.close()
    assert physical(in_flight.migrator_url, 4) == ("u4@x.org", 44, 44)


def test_connect_args_start_the_session_on_the_version(in_flight: InFlight) -> None:
    args = zdmigrate.sqlalchemy.connect_args(NAME, schema=SCHEMA)
    engine = sa.create_engine(sqlalchemy_url(in_flight.app_url), connect_args=args)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT email_address FROM users WHERE id = 9")).scalar() == (
            "u9@x.org"
        )
        assert conn.execute(sa.text("SELECT current_setting('zdmigrate.version')")).scalar() == NAME


def test_a_bad_migration_name_is_refused_at_once() -> None:
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1/none")
    with pytest.raises(ValueError, match="is not a migration name"):
        zdmigrate.sqlalchemy.use_version(engine, "0004_x'; DROP TABLE users; --")


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_through_pgbouncer_each_write_is_attributed_to_its_version(
    mode: str, in_flight: InFlight, pg_server: Server
) -> None:
    """PgBouncer passes no startup options; ``use_version`` sets the version with SQL
    (once per connection in session pooling, first in each transaction in transaction
    pooling, where the old and the new version take turns on one server connection)."""
    app = str(psycopg.conninfo.conninfo_to_dict(in_flight.app_url)["user"])
    with pgbouncer(pg_server.admin_url, mode, [app]) as port:
        target = psycopg.conninfo.make_conninfo(in_flight.app_url, host="127.0.0.1", port=port)
        url = sqlalchemy_url(target)
        args = {"prepare_threshold": None}
        new = sa.create_engine(url, connect_args=args, poolclass=sa.NullPool)
        zdmigrate.sqlalchemy.use_version(new, NAME, schema=SCHEMA, pooling=mode)  # type: ignore[arg-type]
        old = sa.create_engine(url, connect_args=args, poolclass=sa.NullPool)
        with Session(new) as new_session, Session(old) as old_session:
            for key in (11, 12, 13):
                new_session.get(NewUser, key).score = key * 10  # type: ignore[union-attr]
                new_session.commit()
                old_session.get(OldUser, key + 10).score = key * 100  # type: ignore[union-attr]
                old_session.commit()
            assert new_session.get(NewUser, 21).score == 1100  # type: ignore[union-attr]
            new_session.commit()
        new.dispose()
        old.dispose()
    assert [physical(in_flight.migrator_url, k)[1:] for k in (11, 21)] == [(110, 110), (1100, 1100)]
    with psycopg.connect(in_flight.migrator_url) as conn:
        row = conn.execute(f"SELECT last_value FROM shop._zdm_writes_{NAME}").fetchone()
    assert row == (3,)  # the old version's three writes, and only those
    assert commands.verify(in_flight.settings, NAME).ok
