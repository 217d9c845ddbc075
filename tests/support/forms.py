"""Shared test helpers (tests/support): imported by test modules, never the other way."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

from reception.declaration import (
    today_jst,
)

P = ParamSpec("P")
DAY = today_jst() - dt.timedelta(days=1)  # 申立日 must be near today


def valid(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "declared_on": DAY.isoformat(),
        "reason": "該当資格なし",
        "name": "架空 花子",
        "name_kana": "カクウ ハナコ",
        "birth_date": "1990-05-17",
        "sex": "女",
        "address": "東京都千代田区千代田1-1",
        "phone": "03-1234-5678",
        "insurance_type": "協会けんぽ",
        "insurer_name": "全国健康保険協会 東京支部",
        "employer_name": "株式会社サンプル",
        "declared_ratio": 30,
        "card_shown": True,
    }
    data.update(changes)
    return data


# --- the 申立書 form on its own (tests/tui/test_form*.py) -------------------------------------

FORM_DAY = "2026-11-24"  # a fixed 申立日 for pictures; Pilot tests that save use DAY


def reception_of(
    store: Any, name: str | None, status: str = "fallback", *, reason: Any = None
) -> str:
    """A reception whose last result names ``name`` (none when None), ended as ``status``."""
    from reception.reasons import FallbackReason
    from reception.results import QualificationResult

    rid: str = store.begin_reception()
    entries = [{"Name": name}] if name else []
    result = QualificationResult.parse(
        {
            "MessageHeader": {"ProcessExecutionTime": "20261124090000", "SegmentOfResult": "1"},
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "1" if status.startswith("confirmed") else "2",
                "ResultList": {"ResultOfQualificationConfirmation": entries},
            },
        }
    )
    store.finish_reception(
        rid,
        status=status,
        reason="テスト",
        fallback_reason=reason
        or (None if status.startswith("confirmed") else FallbackReason.NO_MATCH),
        result=result,
    )
    return rid


def form_values(**changes: str) -> dict[str, str]:
    """What staff type into the form for :func:`valid` (choices by their values)."""
    data = {k: str(v) for k, v in valid().items() if k != "card_shown"}
    data.update(changes)
    return data


def form_app(screen: Any, *, language: str = "ja") -> Any:
    """An app that shows ``screen`` (a DeclarationScreen) with the terminal's stylesheet,
    and keeps what it was dismissed with in ``closed``; its ``panel.language`` is the
    reader panel's language, as on the real terminal, and F2 toggles it."""
    from pathlib import Path

    from textual.app import App

    import reception.tui

    class Panel:
        def __init__(self) -> None:
            self.language = language

    class FormApp(App[None]):
        CSS_PATH = Path(reception.tui.__file__).parent / "app.tcss"

        def __init__(self) -> None:
            super().__init__()
            self.panel = Panel()
            self.closed: list[Any] = []

        def on_mount(self) -> None:
            self.push_screen(screen, self.closed.append)

        def action_toggle_language(self) -> None:
            self.panel.language = "en" if self.panel.language == "ja" else "ja"

    return FormApp()


def burst(app: Any, keys: list[str]) -> None:
    """Keys as a terminal delivers a burst (a barcode scanner, a paste, tmux send-keys):
    all queued at once from the driver, with no wait between them — Pilot.press waits for
    the app to be idle after every key, which hides what order they are handled in."""
    from textual import events
    from textual.keys import _character_to_key

    for key in keys:
        if len(key) == 1:  # a character, named as the driver names it
            event = events.Key(_character_to_key(key), key)
        else:
            event = events.Key(key, {"tab": "\t", "enter": "\r"}.get(key))
        event.set_sender(app)
        app._driver.send_message(event)


def synced(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """An async Pilot test run as a plain pytest test (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def click_save(pilot: Any) -> None:
    """Scroll the form's 保存 button into view and click it with the mouse."""
    button = pilot.app.screen.query_one("#form-ok")
    button.scroll_visible(animate=False)
    await pilot.pause()
    await pilot.click(button)
    await pilot.pause()
