"""Stress tests of the expand/backfill engine on a real server: concurrency, crashes, locks."""
