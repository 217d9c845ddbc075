"""The built-in training sets (issue 25 §1): ``reception train list`` names the six in
their order, ``reception train check`` plays each one's model answer to full marks, a
model answer that teaches the wrong thing fails its check, and a trainer's file with a
mistake is refused with the line it is on."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest

from reception.cli import main
from reception.training.scenario import SETS

SETS_IN_ORDER = [
    ("kihon", "基本"),
    ("daitai", "代替手段"),
    ("tokubetsu", "特別なケース"),
    ("shogai", "障害時"),
    ("hizuke", "日付のケース"),
    ("konzatsu", "朝の混雑"),
]


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config file, a data directory of the test's own (a check runs in a temp dir)."""
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "stdin", None)


def train(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["train", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_the_six_sets_with_their_titles_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = train(["list"], capsys)
    assert code == 0
    listed = [tuple(line.split()) for line in out.splitlines() if line.strip()]
    assert listed == SETS_IN_ORDER


@pytest.mark.parametrize("set_id", [s for s, _ in SETS_IN_ORDER])
def test_every_case_of_a_builtin_set_scores_full_marks_by_its_model_answer(
    set_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = train(["check", set_id, "--json"], capsys)
    report = json.loads(out)
    failed = [c["case_id"] for c in report["cases"] if c["total"] != c["max"]]
    assert code == 0 and not failed, err
    path = next(SETS.glob(f"*-{set_id}.toml"))
    cases = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
    assert [c["case_id"] for c in report["cases"]] == [c["id"] for c in cases]
    for case in report["cases"]:  # every case explains its rule and names where it is from
        assert case["explain"] and ("http" in case["source"]), case["case_id"]


UNREACHABLE = """\
id = "wrong"
title = "誤った模範解答"
day = "2026-12-07"

[[case]]
id = "lost"
title = "資格（無効）なのにカードで確認できたことにする"
persona = "lost"
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "誤り"
source = "x"

[[case]]
id = "outage"
title = "サービス停止中なのにカードで確認できたことにする"
persona = "adult-kyokai"
[case.situation]
fault = "outage"
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "誤り"
source = "x"
"""


def test_a_model_answer_the_simulator_cannot_reach_fails_its_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(UNREACHABLE, encoding="utf-8")
    code, out, err = train(["check", str(path)], capsys)
    assert code == 1
    assert "NG lost" in out and "NG outage" in out
    assert "lost: 受付の終わり方 0/40" in err and "2 件の模範解答が満点になりません" in err


GOOD_CASE = """\
id = "mine"
title = "自作"
day = "2026-12-07"

[[case]]
id = "one"
title = "ひとり"
persona = "{persona}"
[case.situation]
says = [{says}]
[case.model]
end = "{end}"
ratio = {ratio}
explain = "説明"
source = "x"
"""


def scenario(
    persona: str = "adult-kyokai", says: str = "", end: str = "card", ratio: int = 3
) -> str:
    return GOOD_CASE.format(persona=persona, says=says, end=end, ratio=ratio)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (scenario(end="paid"), 12, "case.0.model.end: Input should be 'card'"),
        (scenario(says='"hungry"'), 10, "「hungry」という発話はありません"),
        (scenario().replace('title = "ひとり"', 'title = "ひとり'), 7, "TOML として読めません"),
        (scenario(persona="nobody"), 8, "「nobody」というペルソナはありません"),
        (scenario(end="notice"), 12, "notice には notice が必要です"),
        (scenario(persona="child-preschool"), 13, "child-preschool の資格確認の結果は 2割"),
        (
            scenario().replace("ratio = 3\n", 'ratio = 3\nbilling = "current"\n'),
            14,
            "請求の種類は申立書（end = declared）のときだけです",
        ),
    ],
    ids=[
        "bad-end-state",
        "unknown-utterance",
        "malformed-toml",
        "unknown-persona",
        "document-not-brought",
        "ratio-not-the-services",
        "billing-without-declaration",
    ],
)
def test_a_scenario_with_a_mistake_is_refused_naming_its_line(
    text: str, line: int, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = train(["check", str(path)], capsys)
    assert code == 2 and out == ""
    assert str(path) in err and words in err
    assert f"{line} 行目" in err or f"line {line}," in err, err


def test_the_readme_example_scenario_passes_its_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Writing a scenario") :]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    code, out, err = train(["check", str(path)], capsys)
    assert code == 0, err
    assert "1 件すべて満点" in out
