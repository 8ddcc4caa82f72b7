"""Keep passwords out of every message, log line and JSON document."""

from __future__ import annotations

import re

__all__ = ["redact", "redact_url"]

# scheme://user:password@host -> scheme://user:***@host
_URL_PW = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<at>@)")
# key=value DSN form and query string form
_KV_PW = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """Replace every password that looks like part of a connection string."""
    text = _URL_PW.sub(lambda m: m["head"] + ("***" if m["pw"] else "") + m["at"], text)
    return _KV_PW.sub(lambda m: m["key"] + "***", text)


def redact_url(url: str | None) -> str | None:
    return None if url is None else redact(url)
