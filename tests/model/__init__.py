"""Tests of the schema model: dump parser, snapshot files."""
