"""Training scenarios and trainee files (issue 25 §1): what a trainer writes is validated
with errors that name the line; the score of a case follows its points and penalties."""

from __future__ import annotations

from pathlib import Path

import pytest

from reception.training.actions import load_trainee
from reception.training.phrases import Mistake
from reception.training.scenario import Document, EndState, ScenarioError, load, parse
from reception.training.scoring import CaseOutcome, score

GOOD = """\
id = "mine"
title = "わたしのセット"
day = "2026-12-07"
[penalties]
ask_pin = 25

[[case]]
id = "pin"
title = "暗証番号"
persona = "adult-kyokai"
[case.situation]
says = ["forgot-pin"]
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "顔認証で受付できます。"
source = "https://www.mhlw.go.jp/"
"""


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse(text, "s.toml")
    return str(caught.value)


def test_a_good_scenario_loads_with_its_defaults() -> None:
    loaded = parse(GOOD)
    case = loaded.scenario.cases[0]
    assert case.model.end is EndState.CARD
    assert case.situation.brings == (Document.CARD,)
    assert loaded.scenario.penalties_of(case).ask_pin == 25
    assert case.good_words("forgot-pin") == ("face-or-visual",)


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ('end = "card"', 'end = "cardd"', 14, "case.0.model.end"),
        ("ratio = 3", "ratio = 4", 15, "case.0.model.ratio"),
        ('says = ["forgot-pin"]', 'says = ["hello"]', 12, "「hello」という発話はありません"),
        ('persona = "adult-kyokai"\n', 'persona = "adult-kyokai"\ncolour = "red"\n', 11, "colour"),
        ('id = "pin"', 'id = "ピン"', 8, "case.0.id"),
    ],
)
def test_a_wrong_value_is_named_with_its_line(old: str, new: str, line: int, words: str) -> None:
    message = _error(GOOD.replace(old, new))
    assert f"s.toml: {line} 行目" in message
    assert words in message


def test_malformed_toml_names_its_line() -> None:
    message = _error(GOOD.replace('title = "暗証番号"', 'title = "暗証番号'))
    assert "TOML として読めません" in message
    assert "line 9" in message


def test_two_cases_with_one_id_are_refused() -> None:
    message = _error(GOOD + GOOD[GOOD.index("[[case]]") :])
    assert "「pin」が2回あります" in message


def test_an_unknown_set_and_a_missing_file_are_said(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="研修セットもファイルもありません"):
        load("no-such-set")
    with pytest.raises(ScenarioError, match="ファイルがありません"):
        load(str(tmp_path / "gone.toml"))
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="UTF-8 ではありません"):
        load(str(binary))


def test_a_trainee_file_with_a_wrong_action_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        'trainee = "山田"\n[[case]]\nid = "pin"\nactions = [\n'
        '  { do = "charge", ratio = 3 },\n  { do = "dance" },\n]\n',
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        load_trainee(path)
    assert "case.0.actions" in str(caught.value)
    assert "行目" in str(caught.value)
    json_file = tmp_path / "t.json"
    json_file.write_text('{"trainee": "", "case": []}', encoding="utf-8")
    with pytest.raises(ScenarioError, match="trainee"):
        load_trainee(json_file)


def test_the_score_follows_points_and_penalties() -> None:
    loaded = parse(GOOD)
    case = loaded.scenario.cases[0]
    penalties = loaded.scenario.penalties_of(case)
    perfect = CaseOutcome(
        case_id="pin",
        end=EndState.CARD,
        ratio=3,
        accepted=[Document.CARD],
        words={"forgot-pin": "face-or-visual"},
        seconds=30,
    )
    assert score(case, perfect, penalties).total == 100
    wrong = perfect.model_copy(
        update={
            "ratio": 2,
            "words": {"forgot-pin": "tell-me"},
            "mistakes": [(Mistake.ASK_PIN, "声かけ: 暗証番号を…")],
        }
    )
    result = score(case, wrong, penalties)
    assert {i.key: i.got for i in result.items} == {
        "end": 40,
        "ratio": 0,
        "documents": 15,
        "words": 0,
        "time": 10,
    }
    assert [(m.kind, m.cost) for m in result.mistakes] == [(Mistake.ASK_PIN, 25)]
    assert result.total == 65 - 25
    slow = perfect.model_copy(update={"seconds": 240})  # twice the 120 s target
    assert next(i for i in score(case, slow, penalties).items if i.key == "time").got == 5
    nothing = CaseOutcome(case_id="pin", mistakes=[(Mistake.TAKE_CARD, "x")] * 5)
    assert score(case, nothing, penalties).total == 0  # never below zero
    untouched = score(
        parse(GOOD.replace('accept = ["card"]\n', "")).scenario.cases[0],
        CaseOutcome(case_id="pin", seconds=400),
        penalties,
    )
    assert {i.key: i.got for i in untouched.items}["documents"] == 0  # a case not handled


def test_a_run_folder_takes_one_run_at_a_time(tmp_path: Path) -> None:
    from reception.training.journal import Journal, JournalError

    first = Journal(tmp_path / "journal.sqlite")
    try:
        with pytest.raises(JournalError, match="別の端末（プロセス）で実行中"):
            Journal(tmp_path / "journal.sqlite")
    finally:
        first.close()
    Journal(tmp_path / "journal.sqlite").close()  # free again once the first is closed


def test_a_damaged_journal_is_said(tmp_path: Path) -> None:
    from reception.training.journal import Journal, JournalError

    (tmp_path / "journal.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(JournalError, match=r"journal\.sqlite"):
        Journal(tmp_path / "journal.sqlite")
