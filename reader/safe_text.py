"""Untrusted text on its way to a screen, a terminal, a PDF or an XML file (design.md §6.6).

Names from the service, error bodies, card data, form fields and request files may carry
characters that act instead of being shown: C0/C1 controls (ESC starts the terminal
sequences that recolour a row or rename a tmux pane), DEL, the bidi overrides and
isolates that reorder what staff read, and noncharacters. This module finds them
(:func:`unsafe_characters`, for validation messages that name each one), replaces them
visibly (:func:`printable`, for what is shown) and escapes them in JSON
(:func:`json_safe`). Nothing else is changed: Japanese text passes as it is.

It lives in ``reader`` because every package shows untrusted text and ``reader`` is the
one they all may import.
"""

from __future__ import annotations

import re
import unicodedata

# bidi embeddings/overrides (U+202A–202E) and isolates (U+2066–2069); the invisible
# marks U+200E/U+200F/U+061C reorder text too
_BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17)
)
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_NONCHARACTERS}]")
_UNSAFE_KEEP_LINES = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}{_NONCHARACTERS}]")

_C0_NAMES = {
    0x00: "NUL",
    0x07: "BEL",
    0x08: "BS",
    0x09: "TAB",
    0x0A: "LF",
    0x0D: "CR",
    0x1B: "ESC",
    0x7F: "DEL",
}


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the control pictures: ␀ … ␛ …
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def printable(text: str, *, multiline: bool = False, replacement: str | None = None) -> str:
    """``text`` with every unsafe character replaced by a visible stand-in (␛, ␀, �), or
    by ``replacement`` where the output cannot show those (a PDF font without them).

    With ``multiline`` a line feed stays a line feed.
    """
    pattern = _UNSAFE_KEEP_LINES if multiline else _UNSAFE
    if replacement is None:
        return pattern.sub(_shown, text)
    return pattern.sub(lambda _: replacement, text)


def describe(char: str) -> str:
    """``U+001B (ESC)``, ``U+202E (RIGHT-TO-LEFT OVERRIDE)`` …"""
    code = ord(char)
    name = _C0_NAMES.get(code) or unicodedata.name(char, "")
    if not name and (0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE):
        name = "noncharacter"
    return f"U+{code:04X}" + (f" ({name})" if name else "")


def unsafe_characters(text: str) -> list[str]:
    """The unsafe characters in ``text``, each described once, in order of appearance."""
    seen: list[str] = []
    for match in _UNSAFE.finditer(text):
        shown = describe(match.group())
        if shown not in seen:
            seen.append(shown)
    return seen


def json_safe(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every unsafe character
    written as a ``\\uXXXX`` escape: the same data, nothing that acts on a terminal."""

    def escaped(match: re.Match[str]) -> str:
        code = ord(match.group())
        if code > 0xFFFF:
            code -= 0x10000
            return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
        return f"\\u{code:04x}"

    return _UNSAFE_KEEP_LINES.sub(escaped, text)
