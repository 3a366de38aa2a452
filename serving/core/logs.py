"""Structured (JSON lines) logs on stderr: the ``serving`` loggers and the access log.

The access log bypasses :mod:`logging` (a LogRecord, caller lookup and a flush per request
cost as much as serving a cached page): lines are encoded once, gathered and written at
most every ``ACCESS_FLUSH_SEC`` in writes of whole lines under ``PIPE_BUF`` (atomic even
when several workers share one pipe).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode
ACCESS_FLUSH_SEC = 0.2
_WRITE_MAX = 4000


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extra ``fields``, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry).decode()


def configure_logging(level: int = logging.INFO) -> None:
    """Send the ``serving`` loggers to stderr as JSON lines (idempotent)."""
    logger = logging.getLogger("serving")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class AccessLog:
    """JSON access-log lines (``"logger": "serving.access"``) written in small batches."""

    def __init__(self, fd: int = 2) -> None:
        self._fd = fd
        self._lines: list[bytes] = []
        self._size = 0
        self._flush_pending = False

    def record(self, fields: dict[str, Any], created: float) -> None:
        """Queue one request's line; written within ``ACCESS_FLUSH_SEC``."""
        entry = {"ts": _timestamp(created), "level": "info", "logger": "serving.access"}
        entry.update(fields)
        line = _encode(entry) + b"\n"
        if self._size + len(line) > _WRITE_MAX:
            self.flush()
        self._lines.append(line)
        self._size += len(line)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_later(ACCESS_FLUSH_SEC, self.flush)

    def flush(self) -> None:
        """Write the queued lines now."""
        self._flush_pending = False
        if self._lines:
            data, self._lines, self._size = b"".join(self._lines), [], 0
            try:
                os.write(self._fd, data)
            except OSError:
                logging.getLogger("serving").warning("access log write failed", exc_info=True)


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
