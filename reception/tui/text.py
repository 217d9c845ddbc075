"""Untrusted text for the screen: controls made visible (reader.safe_text), then markup
escaped. Every string the app did not write itself goes through :func:`safe` (or
:func:`plain` where it becomes a Rich ``Text``, which is not parsed as markup)."""

from __future__ import annotations

from textual.markup import escape

from reader.safe_text import printable


def plain(text: str) -> str:
    """Controls, bidi overrides and noncharacters replaced visibly (␛, �)."""
    return printable(text, multiline=True)


def safe(text: str) -> str:
    """:func:`plain`, then markup escaped: for Static, notify and option labels."""
    return escape(plain(text))
