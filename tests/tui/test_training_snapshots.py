"""Snapshots of 研修 mode (issue 25): the start screen, a case's feedback and the final
report, at the terminal sizes trainers use. Update after an intended change:
pytest tests/tui/test_training_snapshots.py --snapshot-update (then look at the SVGs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen

from reception.training.phrases import MISTAKE_WHY, Mistake
from reception.training.scoring import CaseScore, MistakeItem, RunReport, ScoreItem
from reception.tui.training.feedback import FeedbackScreen, ReportScreen
from reception.tui.training.start import TrainingStartApp

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x55": (200, 55)}
SETS = [  # fixed: the built-in sets grow while trainers write them
    ("kihon", "基本"),
    ("daitai", "代替手段"),
    ("tokubetsu", "特別なケース"),
    ("shogai", "障害時"),
    ("hizuke", "日付のケース"),
    ("konzatsu", "朝の混雑"),
]


class Showing(App[None]):
    """One screen on its own."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.shown = screen

    def on_mount(self) -> None:
        self.push_screen(self.shown)


def case(case_id: str, title: str, *, wrong: bool) -> CaseScore:
    items = [
        ScoreItem(
            key="end",
            label="受付の終わり方",
            got=40,
            max=40,
            note="正: マイナ保険証で確認 / 結果: マイナ保険証で確認",
        ),
        ScoreItem(
            key="ratio",
            label="負担割合",
            got=0 if wrong else 20,
            max=20,
            note="正: 3割 / 入力: " + ("1割" if wrong else "3割"),
        ),
        ScoreItem(
            key="documents",
            label="書類",
            got=15,
            max=15,
            note="受け付ける: マイナ保険証（マイナンバーカード）",
        ),
        ScoreItem(
            key="words",
            label="声かけ",
            got=0 if wrong else 15,
            max=15,
            note="「暗証番号がわかりません」: "
            + ("誤り — 暗証番号は本人だけが入力します。" if wrong else "よい"),
        ),
        ScoreItem(key="time", label="時間", got=10, max=10, note="48 秒（目安 120 秒）"),
    ]
    mistakes = (
        [
            MistakeItem(
                kind=Mistake.ASK_PIN,
                label=Mistake.ASK_PIN.label,
                cost=30,
                detail="声かけ: 「暗証番号を教えていただければ、こちらで入力します」",
                why=MISTAKE_WHY[Mistake.ASK_PIN],
            )
        ]
        if wrong
        else []
    )
    got = sum(i.got for i in items) - sum(m.cost for m in mistakes)
    return CaseScore(
        case_id=case_id,
        title=title,
        items=items,
        mistakes=mistakes,
        total=max(0, got),
        max=100,
        seconds=48,
        explain="暗証番号がわからなくても、顔認証か目視確認で受付できます。"
        "職員が暗証番号を尋ねたり入力したりしてはいけません。",
        source="厚生労働省「オンライン資格確認の運用に関するQ&A」",
    )


@pytest.mark.parametrize("size", SIZES)
def test_the_start_screen(snap_compare: Any, tmp_path: Path, size: str) -> None:
    app = TrainingStartApp(Path("/srv/reception"), sets=SETS)
    assert snap_compare(app, terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_a_cases_feedback(snap_compare: Any, size: str) -> None:
    screen = FeedbackScreen(case("forgot-pin", "暗証番号を忘れた", wrong=True), 2, 6)
    assert snap_compare(Showing(screen), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_the_final_report(snap_compare: Any, size: str) -> None:
    report = RunReport(
        scenario_id="kihon",
        scenario_title="基本",
        trainee="山田 花子",
        day=dt.date(2026, 12, 7),
        started=dt.datetime(2026, 12, 7, 9, 0),
        finished=dt.datetime(2026, 12, 7, 9, 20),
        cases=[
            case("pin", "暗証番号で受付", wrong=False),
            case("forgot-pin", "暗証番号を忘れた", wrong=True),
        ],
        case_count=2,
    )
    saved = (
        "/srv/reception/training/kihon-山田_花子/report.html",
        "/srv/reception/training/kihon-山田_花子/report.csv",
    )
    assert snap_compare(Showing(ReportScreen(report, saved)), terminal_size=SIZES[size])
