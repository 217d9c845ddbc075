"""The trainer's page's reading (issue 26 §1): a desk's journal read while its process
holds it (or before it exists, or when it is garbage), a desk's row, the room's report
as CSV, the service's faults, the trainer's forms."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from multidict import MultiDict, MultiDictProxy

from reception.room.desks import DeskStatus
from reception.room.layout import Room
from reception.room.trainer import FormError, _same_origin, _scenario_choice
from reception.room.trainer_view import (
    Played,
    ScenarioBook,
    ServiceFaults,
    desk_rows,
    process_view,
    report_csv,
    report_lines,
)
from reception.training.folders import JOURNAL
from reception.training.journal import NO_JOURNAL, Journal, read_progress
from reception.training.phrases import Mistake
from reception.training.scoring import CaseScore, MistakeItem

START = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


def kihon() -> Played:
    played = ScenarioBook().played("kihon")
    assert played is not None
    return played


def score(case_id: str, total: int, *mistakes: Mistake) -> CaseScore:
    return CaseScore(
        case_id=case_id,
        title=case_id,
        items=[],
        mistakes=[MistakeItem(kind=m, label=m.label, cost=30, detail="", why="") for m in mistakes],
        total=total,
        max=100,
        seconds=30.0,
        explain="",
        source="",
    )


def write_run(path: Path, trainee: str, settled: dict[str, CaseScore], under_way: str) -> Journal:
    """A journal as a desk's process writes it (kept open: its lock held)."""
    journal = Journal(path)
    journal.set_meta(
        trainee=trainee,
        started=START.isoformat(),
        scenario_id="kihon",
        scenario_source="kihon",
    )
    position = 0
    for position, (case_id, result) in enumerate(settled.items()):
        journal.open_case(case_id, position, START, 0.0)
        journal.settle(case_id, result)
    journal.open_case(under_way, position + 1, START, 0.0)
    journal.add_action(under_way, {"do": "ask-pin"}, "暗証番号を尋ねました", Mistake.ASK_PIN.value)
    return journal


# -- the journal read without its lock ----------------------------------------------------


def test_a_missing_journal_is_no_progress_yet(tmp_path: Path) -> None:
    progress = read_progress(tmp_path / "runs" / JOURNAL)
    assert progress.cases == () and progress.reason == NO_JOURNAL
    assert not (tmp_path / "runs").exists()  # reading made nothing


@pytest.mark.parametrize(
    "content", [b"", b"garbage, not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 200]
)
def test_a_garbage_or_empty_journal_is_no_progress_with_its_reason(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / JOURNAL
    path.write_bytes(content)
    progress = read_progress(path)
    assert progress.cases == () and progress.trainee is None
    assert progress.reason is not None
    assert path.read_bytes() == content  # never written


def test_a_journal_held_by_its_desk_is_read_as_of_its_last_commit(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    journal = write_run(path, "山田 花子", {"pin": score("pin", 70, Mistake.BLAME)}, "face")
    try:
        progress = read_progress(path)
        assert progress.reason is None and progress.trainee == "山田 花子"
        assert [(c.case_id, c.position) for c in progress.cases] == [("pin", 0), ("face", 1)]
        settled, open_case = progress.cases
        assert settled.score is not None and settled.score.total == 70
        assert open_case.score is None and open_case.mistakes == (Mistake.ASK_PIN,)
        journal.settle("face", score("face", 100))  # the desk goes on while the trainer reads
        assert read_progress(path).cases[1].score is not None
    finally:
        journal.close()


def test_a_score_that_does_not_parse_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    journal = write_run(path, "a", {}, "pin")
    journal._db.execute('UPDATE cases SET score = \'{"not": "a score"}\'')
    journal.close()
    progress = read_progress(path)
    assert progress.cases == () and progress.reason is not None


# -- a desk's row, the room's report --------------------------------------------------------


def room_with_runs(tmp_path: Path) -> tuple[Room, list[Journal]]:
    (tmp_path / "room").mkdir()
    room = Room(tmp_path / "room")
    state = room.prepare(3, protect=False)
    state.desks[0].trainee = '=HYPERLINK("x")'  # a name a spreadsheet would run
    state.desks[1].trainee = "<b>佐藤</b>"
    room.save(state)
    first = room.run_folder(state.desks[0].code, "kihon") / JOURNAL
    second = room.run_folder(state.desks[1].code, "kihon") / JOURNAL
    journals = [
        write_run(first, state.desks[0].trainee, {"pin": score("pin", 65)}, "face"),
        write_run(
            second,
            "<b>佐藤</b>",
            {"pin": score("pin", 100), "face": score("face", 40, Mistake.TAKE_CARD)},
            "visual",
        ),
    ]
    return room, journals


def test_a_desks_row_says_its_case_score_and_mistakes_in_japanese(tmp_path: Path) -> None:
    room, journals = room_with_runs(tmp_path)
    try:
        state = room.load()
        room.set_control(state.desks[1].code, reader_unplugged=True)
        rows, everyone = desk_rows(room, state, "http://host:1", kihon(), {})
    finally:
        for journal in journals:
            journal.close()
    first, second, third = rows
    assert first.case_text == "2/9 ・ 暗証番号がわからない → 顔認証"
    assert first.score.text == "65/100 点（65 %）"
    assert first.mistakes == ["暗証番号を尋ねた・入力した（ケース 2）"]
    assert second.score.points == 140 and second.score.max == 200
    assert second.mistakes == [
        "患者さんのカードを預かった（ケース 2）",
        "暗証番号を尋ねた・入力した（ケース 3）",
    ]
    assert second.broken_text == "リーダー未接続" and first.broken_text == "なし"
    assert third.case_text == "まだ始めていません" and third.score.text == "—"
    assert first.process.text == "未接続" and first.url == f"http://host:1/desk/{first.code}"
    assert everyone.text == "なし"


def test_the_rooms_csv_has_each_trainee_by_case_as_the_runs_report_writes_it(
    tmp_path: Path,
) -> None:
    room, journals = room_with_runs(tmp_path)
    try:
        played = kihon()
        lines = report_lines(room, room.load(), played)
        text = report_csv(played, lines)
    finally:
        for journal in journals:
            journal.close()
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    header, first, second = rows
    assert header[:4] == ["区分", "デスク", "研修者", "シナリオ"]
    pin, face = header.index("pin 暗証番号で受付 得点"), header.index("face 満点") - 1
    assert first[0] == second[0] == "研修"
    assert first[2] == '\'=HYPERLINK("x")'  # defused, as reception.training.report does
    assert (first[pin], first[pin + 1], first[face]) == ("65", "100", "")
    assert (second[2], second[pin], second[face]) == ("<b>佐藤</b>", "100", "40")
    assert second[-4:] == ["140", "200", "70.0", "2/9"]


# -- the service's faults ------------------------------------------------------------------


def test_a_clinics_own_fault_entry_replaces_the_global_one(tmp_path: Path) -> None:
    plan = {
        "global": {"latency_ms": 2500, "outage": False},
        "facilities": {"1319000019": {"outage": True, "latency_ms": 0}},
    }
    (tmp_path / "faults.json").write_text(json.dumps(plan))
    faults = ServiceFaults.read(tmp_path)
    assert faults.of("1319000019").text == "サービス停止"
    assert faults.of("1319000027").text == "応答が遅い"


@pytest.mark.parametrize("content", ["", "[1, 2]", '{"global": "x", "facilities": 3}', "{"])
def test_a_garbage_faults_file_breaks_nothing_shown(tmp_path: Path, content: str) -> None:
    (tmp_path / "faults.json").write_text(content)
    assert ServiceFaults.read(tmp_path).of("1319000019").text == "なし"
    assert ServiceFaults.read(None).everyone.text == "なし"


# -- the trainer's forms -------------------------------------------------------------------


def form(**fields: str) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(fields))


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({}, "研修セットを選ぶか"),
        ({"set": "nope"}, "「nope」という研修セットはありません（セット: kihon"),
        ({"set": "kihon\x00"}, "制御文字"),
        ({"file": "/x" * 600}, "長すぎます"),
    ],
)
def test_a_bad_scenario_choice_says_what_is_wrong(fields: dict[str, str], says: str) -> None:
    with pytest.raises(FormError, match=says):
        _scenario_choice(form(**fields))


def test_a_scenario_file_typed_wins_over_the_set() -> None:
    assert _scenario_choice(form(set="kihon", file=" /tmp/s.toml ")) == "/tmp/s.toml"
    assert _scenario_choice(form(set="daitai")) == "daitai"


class FakeRequest:
    def __init__(self, host: str, **headers: str) -> None:
        self.host = host
        self.headers = headers


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}, True),
        ({"Referer": "http://127.0.0.1:8000/trainer"}, True),
        ({}, True),  # not a browser: the cookie alone decides
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Referer": "http://127.0.0.1:9999/"}, False),
    ],
)
def test_a_post_must_come_from_the_trainers_own_page(
    headers: dict[str, str], allowed: bool
) -> None:
    request = FakeRequest("127.0.0.1:8000", **headers)
    assert _same_origin(request) is allowed  # type: ignore[arg-type]


def test_a_desks_process_says_connected_restarts_and_why_it_is_down() -> None:
    assert process_view(None).text == "未接続"
    assert process_view(DeskStatus(connected=True, pid=42)).text == "接続中"
    crashed = DeskStatus(connected=False, restarts=5, down="60 秒に 5 回を超えて止まりました")
    assert (
        process_view(crashed).text
        == "未接続 ・ 再起動 5 回 ・ 停止: 60 秒に 5 回を超えて止まりました"
    )
