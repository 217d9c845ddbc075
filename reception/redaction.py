"""Logging with a redaction filter (design.md §6.3 and §6.7).

Every record that reaches a handler installed by :func:`configure_logging` passes
:class:`RedactionFilter`: secrets registered while in use (the PIN a patient typed)
are replaced, and so is any run of exactly 12 digits (the shape of a 個人番号). The
filter works on the formatted message *and* on exception text.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
MASK = "[伏せ字]"

_lock = threading.Lock()
_secrets: dict[int, str] = {}


@contextmanager
def secret(value: str) -> Iterator[None]:
    """Redact ``value`` from every log record while the block runs."""
    key = id(value)
    with _lock:
        _secrets[key] = value
    try:
        yield
    finally:
        with _lock:
            _secrets.pop(key, None)


def redact(text: str) -> str:
    with _lock:
        values = sorted(set(_secrets.values()), key=len, reverse=True)
    for value in values:
        if value:
            text = re.sub(rf"(?<![0-9]){re.escape(value)}(?![0-9])", MASK, text)
    return TWELVE_DIGITS.sub(MASK, text)


class RedactionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(level: int | str = logging.INFO, file: Path | None = None) -> logging.Handler:
    """One handler on the root logger (stderr, or a file), with the redaction filter."""
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    )
    handler.addFilter(RedactionFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
