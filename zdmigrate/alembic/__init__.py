"""Reading Alembic revisions: their SQL as ``alembic upgrade --sql`` renders it."""

from zdmigrate.alembic.render import RevisionSource, project_sources, revision_sources

__all__ = ["RevisionSource", "project_sources", "revision_sources"]
