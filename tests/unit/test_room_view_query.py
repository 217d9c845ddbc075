"""How a trainee asked to see the desk (``?a11y=1``: the terminal's text for a screen
reader; ``fontsize``) is kept from the room's landing page through the name form to the
desk page — only those two, only valid values (issue 26)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from reception.room.server import view_query


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("", ""),
        ("?a11y=1", "?a11y=1"),
        ("?a11y=1&fontsize=20", "?a11y=1&fontsize=20"),
        ("?fontsize=20", "?fontsize=20"),
        ("?a11y=0&fontsize=7", ""),  # off, and a size out of 8–40
        ("?fontsize=41", ""),
        ("?a11y=yes&fontsize=+20", ""),
        ('?a11y=1&next=//evil.example&fontsize=1"><script>', "?a11y=1"),
    ],
)
def test_only_the_view_options_pass_on(query: str, kept: str) -> None:
    assert view_query(make_mocked_request("GET", f"/desk/abc234{query}")) == kept
