"""The fonts of the 申立書 PDF, and which characters they can print.

IPAex Gothic (fonts-ipaexfont-gothic) prints the form; IPAmj Mincho
(fonts-ipamj-mincho), when installed, is the fallback for the 異体字 of names that
IPAex lacks (𠮷田, 髙 is in both). A character that neither font has would vanish from
the PDF without a word (fpdf2 drops it), so validation refuses it and names it
(:func:`unprintable_characters`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from reception.errors import ReceptionError

ENV_FONT = "RECEPTION_FONT"
ENV_FALLBACK_FONT = "RECEPTION_FALLBACK_FONT"
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)
FALLBACK_CANDIDATES = (
    "/usr/share/fonts/truetype/ipamj/ipamjm.ttf",
    "/usr/share/fonts/opentype/ipamj/ipamjm.ttf",
)


class FontMissing(ReceptionError, RuntimeError):
    title = "日本語フォントがありません"


def _first(env: str, defaults: tuple[str, ...]) -> tuple[Path | None, list[Path]]:
    override = os.environ.get(env)
    candidates = [Path(override)] if override else [Path(p) for p in defaults]
    return next((p for p in candidates if p.is_file()), None), candidates


def japanese_font() -> Path:
    """The font file: ``RECEPTION_FONT`` if set, else the first installed candidate."""
    found, candidates = _first(ENV_FONT, FONT_CANDIDATES)
    if found is None:
        raise FontMissing(
            f"no Japanese TrueType font found ({', '.join(str(p) for p in candidates)}); "
            "install fonts-ipaexfont-gothic (scripts/setup does) or set RECEPTION_FONT"
        )
    return found


def fallback_font() -> Path | None:
    """The font for characters the main one lacks (``RECEPTION_FALLBACK_FONT``), if any."""
    return _first(ENV_FALLBACK_FONT, FALLBACK_CANDIDATES)[0]


@functools.lru_cache(maxsize=4)
def _coverage(fonts: tuple[Path, ...]) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # fpdf2's own dependency

    covered: set[int] = set()
    for path in fonts:
        with TTFont(str(path), lazy=True) as font:
            covered.update(font.getBestCmap())
    return frozenset(covered)


def unprintable_characters(text: str) -> list[str]:
    """Characters of ``text`` that no installed font of the form can print, each once.

    Empty when no font is installed at all (the PDF then fails with FontMissing)."""
    try:
        fonts = (japanese_font(), *filter(None, [fallback_font()]))
    except FontMissing:
        return []
    covered = _coverage(fonts)
    missing: list[str] = []
    for char in text:
        if ord(char) not in covered and not char.isspace() and char not in missing:
            missing.append(char)
    return missing
