"""Training runs, headless (issue 25 §2, §3): a perfect trainee scores 100 %, each kind of
mistake costs what the scenario says and is named in the report, a run killed (kill -9)
half-way resumes where it stood, and nothing of a run touches the clinic's own store."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import mentioning

SCENARIO = """\
id = "test-runs"
title = "試験"
day = "2026-12-07"
[penalties]
ask_pin = 25
take_card = 20
wrong_reception = 30
rung_skipped = 15
blame = 10

[[case]]
id = "pin"
title = "暗証番号で受付"
persona = "adult-kyokai"
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "マイナ保険証で確認できました。"
source = "https://www.mhlw.go.jp/"

[[case]]
id = "notice"
title = "お知らせとカード"
persona = "not-registered"
[case.situation]
brings = ["card", "notice"]
[case.model]
end = "notice"
ratio = 3
accept = ["card", "notice"]
explain = "カードとお知らせで確認します。"
source = "https://www.mhlw.go.jp/"

[[case]]
id = "forgot-pin"
title = "暗証番号を忘れた"
persona = "family"
[case.situation]
method = "face"
says = ["forgot-pin"]
fault = "slow"
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "顔認証で受付できます。"
source = "https://www.mhlw.go.jp/"
"""

PERFECT = {
    "trainee": "満点 花子",
    "case": [
        {
            "id": "pin",
            "seconds": 30,
            "actions": [{"do": "accept", "document": "card"}, {"do": "charge", "ratio": 3}],
        },
        {
            "id": "notice",
            "seconds": 60,
            "actions": [
                {"do": "accept", "document": "card"},
                {"do": "accept", "document": "notice"},
                {
                    "do": "notice",
                    "detail": "資格情報のお知らせ 協会けんぽ 3割",
                    "birth_date": "{birth}",
                },
                {"do": "charge", "ratio": 3},
            ],
        },
        {
            "id": "forgot-pin",
            "seconds": 40,
            "actions": [
                {"do": "say", "utterance": "forgot-pin", "phrase": "face-or-visual"},
                {"do": "accept", "document": "card"},
                {"do": "charge", "ratio": 3},
            ],
        },
    ],
}

MISTAKES = {
    "trainee": "誤り 太郎",
    "case": [
        {
            "id": "pin",
            "seconds": 30,
            "actions": [
                {"do": "ask-pin"},
                {"do": "take-card"},
                {"do": "accept", "document": "card"},
                {"do": "charge", "ratio": 2},
            ],
        },
        {
            "id": "notice",
            "seconds": 60,
            "actions": [
                {"do": "accept", "document": "card"},
                {"do": "notice", "detail": "資格情報のお知らせ 3割", "on": "previous"},
                {"do": "declaration"},
                {"do": "charge", "ratio": 3},
            ],
        },
        {
            "id": "forgot-pin",
            "seconds": 300,
            "actions": [
                {"do": "say", "utterance": "forgot-pin", "phrase": "go-home"},
                {"do": "accept", "document": "card"},
                {"do": "charge", "ratio": 3},
            ],
        },
    ],
}


def _env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "RECEPTION_CONFIG": str(tmp_path / "none.toml"),
        "RECEPTION_DATA_DIR": str(tmp_path / "clinic"),
    }


def _files(tmp_path: Path, trainee: dict[str, Any]) -> tuple[Path, Path]:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    path = tmp_path / "trainee.json"
    text = json.dumps(trainee, ensure_ascii=False)
    path.write_text(text.replace("{birth}", "1993-12-07"), encoding="utf-8")
    return scenario, path


def _train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reception.cli", "train", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=180,
        check=False,
    )


def test_a_perfect_trainee_scores_100_and_the_clinic_store_is_untouched(tmp_path: Path) -> None:
    scenario, trainee = _files(tmp_path, PERFECT)
    out = tmp_path / "run"
    done = _train(
        tmp_path, "run", str(scenario), "--trainee", str(trainee), "--json", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["training"] is True
    assert [c["case_id"] for c in report["cases"]] == ["pin", "notice", "forgot-pin"]
    assert [c["total"] for c in report["cases"]] == [100, 100, 100], report
    assert report["percent"] == 100.0
    assert not (tmp_path / "clinic" / "reception.sqlite").exists()  # the clinic's store
    assert (out / "研修-TRAINING.txt").exists()
    assert (out / "reception" / "reception.sqlite").exists()
    assert "研修" in (out / "report.html").read_text(encoding="utf-8")
    personas = json.loads((out / "world" / "world.json").read_text())["personas"]
    pins = [p["pin"] for p in personas if p["id"] in ("adult-kyokai", "not-registered", "family")]
    with sqlite3.connect(out / "journal.sqlite") as db:
        text = " ".join(
            str(v)
            for query in (
                "SELECT action, result FROM actions",
                "SELECT value FROM meta",
                "SELECT score FROM cases",
            )
            for row in db.execute(query)
            for v in row
        )
    assert pins and not [p for p in pins if re.search(rf"(?<!\d){p}(?!\d)", text)]  # no PIN


def test_each_mistake_costs_what_the_scenario_says_and_is_named(tmp_path: Path) -> None:
    scenario, trainee = _files(tmp_path, MISTAKES)
    done = _train(
        tmp_path,
        "run",
        str(scenario),
        "--trainee",
        str(trainee),
        "--json",
        "--out",
        str(tmp_path / "run"),
    )
    assert done.returncode == 0, done.stderr
    cases = {c["case_id"]: c for c in json.loads(done.stdout)["cases"]}
    costs = {c: [(m["kind"], m["cost"]) for m in cases[c]["mistakes"]] for c in cases}
    assert costs["pin"] == [("ask-pin", 25), ("take-card", 20)]
    items = {i["key"]: i["got"] for i in cases["pin"]["items"]}
    assert items["ratio"] == 0  # 2割 charged, 3割 right
    assert cases["pin"]["total"] == 100 - 20 - 25 - 20
    # the お知らせ on the previous patient's reception: refused by the core, and a
    # 申立書 while the お知らせ was in the patient's hands: a rung skipped
    assert costs["notice"] == [("wrong-reception", 30), ("rung-skipped", 15)]
    notice_items = {i["key"]: i for i in cases["notice"]["items"]}
    assert notice_items["end"]["got"] == 0
    assert "申立書" in notice_items["end"]["note"]
    assert notice_items["documents"]["got"] < notice_items["documents"]["max"]
    assert costs["forgot-pin"] == [("blame", 10)]
    words = {i["key"]: i for i in cases["forgot-pin"]["items"]}["words"]
    assert words["got"] == 0 and "誤り" in words["note"]
    slow = {i["key"]: i for i in cases["forgot-pin"]["items"]}["time"]
    assert slow["got"] < slow["max"] and "300 秒" in slow["note"]  # 120 s was the target
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    for label in (
        "暗証番号を尋ねた",
        "カードを預かった",
        "別の患者さんの受付",
        "順番を飛ばした",
        "責める",
    ):
        assert label in html


def _settled(journal: Path) -> int:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
            return int(
                db.execute("SELECT count(*) FROM cases WHERE score IS NOT NULL").fetchone()[0]
            )
    except sqlite3.Error:
        return 0


def test_a_run_killed_half_way_resumes_where_it_stood(tmp_path: Path) -> None:
    scenario, trainee = _files(tmp_path, PERFECT)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reception.cli",
            "train",
            "run",
            str(scenario),
            "--trainee",
            str(trainee),
            "--json",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(tmp_path),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        # the third case's service answers late (fault "slow"): killed while on it
        while _settled(out / "journal.sqlite") < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    first = json.loads(
        sqlite3.connect(out / "journal.sqlite")
        .execute("SELECT score FROM cases WHERE case_id = 'pin'")
        .fetchone()[0]
    )
    # the mock service it started ends with it (a killed parent orphans no server)
    deadline = time.monotonic() + 15
    while mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not mentioning(str(out))
    done = _train(
        tmp_path, "run", str(scenario), "--trainee", str(trainee), "--json", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [c["case_id"] for c in report["cases"]] == ["pin", "notice", "forgot-pin"]
    assert report["cases"][0] == first  # the settled cases kept as they were
    assert report["percent"] == 100.0
    assert report["finished"] is not None


def test_a_case_whose_reception_the_store_lost_begins_again(tmp_path: Path) -> None:
    """A journal naming a reception the run's store does not have (a store replaced, two
    processes on one desk's run): the case begins again, the run does not fail."""
    scenario, trainee = _files(tmp_path, PERFECT)
    out = tmp_path / "run"
    args = ("run", str(scenario), "--trainee", str(trainee), "--json", "--out", str(out))
    assert _train(tmp_path, *args).returncode == 0
    with sqlite3.connect(out / "journal.sqlite") as db:
        db.execute(
            "UPDATE cases SET score = NULL, reception_id = 'R20260101000000-lost' "
            "WHERE case_id = 'forgot-pin'"
        )
        db.execute("DELETE FROM meta WHERE key = 'finished'")
    done = _train(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [c["case_id"] for c in report["cases"]] == ["pin", "notice", "forgot-pin"]
    assert report["percent"] == 100.0


def test_a_scenario_naming_an_unknown_persona_is_refused_with_its_line(tmp_path: Path) -> None:
    scenario, _trainee = _files(tmp_path, PERFECT)
    scenario.write_text(SCENARIO.replace('"family"', '"nobody"'), encoding="utf-8")
    done = _train(tmp_path, "check", str(scenario))
    assert done.returncode == 2
    assert "行目" in done.stderr and "「nobody」というペルソナはありません" in done.stderr


@pytest.mark.parametrize("wrong", ["pin", "notice"])
def test_check_fails_when_a_model_answer_cannot_reach_its_end(tmp_path: Path, wrong: str) -> None:
    scenario = tmp_path / "s.toml"
    # the card route confirms adult-kyokai: a model saying 申立書 cannot be reached
    text = SCENARIO.replace(
        'end = "card"\nratio = 3\naccept = ["card"]\nexplain = "マイナ',
        'end = "declared"\nratio = 3\naccept = ["card"]\nexplain = "マイナ',
        1,
    )
    scenario.write_text(text, encoding="utf-8")
    done = _train(tmp_path, "check", str(scenario))
    assert done.returncode == 1
    assert "NG pin" in done.stdout
    assert "満点になりません" in done.stderr


def test_a_generated_person_is_a_new_patient_in_the_personas_situation(tmp_path: Path) -> None:
    from reception.store import Store

    scenario = tmp_path / "generated.toml"
    case = SCENARIO[SCENARIO.index("[[case]]") : SCENARIO.index('[[case]]\nid = "notice"')]
    scenario.write_text(
        SCENARIO[: SCENARIO.index("[[case]]")]
        + case.replace('persona = "adult-kyokai"', 'persona = "adult-kyokai"\ngenerated = true'),
        encoding="utf-8",
    )
    trainee = tmp_path / "t.json"
    trainee.write_text(json.dumps({"trainee": "x", "case": [PERFECT["case"][0]]}), encoding="utf-8")
    out = tmp_path / "run"
    done = _train(
        tmp_path, "run", str(scenario), "--trainee", str(trainee), "--json", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["percent"] == 100.0
    personas = {
        p["id"]: p for p in json.loads((out / "world" / "world.json").read_text())["personas"]
    }
    made, model = personas["gen-pin"], personas["adult-kyokai"]
    assert made["name"] != model["name"] and made["numbers"] != model["numbers"]
    with sqlite3.connect(out / "journal.sqlite") as db:
        (rid,) = db.execute("SELECT reception_id FROM cases WHERE case_id = 'pin'").fetchone()
    store = Store(out / "reception" / "reception.sqlite")
    try:
        names = {e.name for e in store.results_of(rid)[-1].entries}
    finally:
        store.close()
    assert names == {made["name"].replace(" ", "\u3000")}  # the service answered for them


def test_the_consoles_own_rungs_are_scored_from_the_store(tmp_path: Path) -> None:
    """The TUI's staff console records rungs through the core itself (not as training
    actions): a 申立書 while the お知らせ is at hand is a rung skipped, found in the store."""
    import asyncio

    from reception.declaration import SelfDeclaration
    from reception.ladder import file_declaration
    from reception.settings import load_settings
    from reception.sim.training import training_clinic
    from reception.training.journal import Journal
    from reception.training.run import TrainingRun
    from reception.training.scenario import parse

    loaded = parse(SCENARIO)
    os.environ.setdefault("RECEPTION_CONFIG", str(tmp_path / "none.toml"))

    async def run() -> list[str]:
        with training_clinic(tmp_path / "run", loaded.scenario, load_settings()) as clinic:
            journal = Journal(tmp_path / "run" / "journal.sqlite")
            try:
                training = TrainingRun(loaded, journal, clinic, "console")
                first = training.begin()
                assert first is not None
                await first.patient_checks_in()
                first.settle(10)
                desk = training.begin()
                assert desk is not None and desk.case.id == "notice"
                rid = await desk.patient_checks_in()
                form = SelfDeclaration.parse(desk.declaration_values() | {"card_shown": "true"})
                file_declaration(
                    clinic.store, form, clinic.settings.declarations_dir, reception_id=rid
                )
                return [m.kind.value for m in desk.settle(60).mistakes]
            finally:
                journal.close()
                await clinic.aclose()

    assert asyncio.run(run()) == ["rung-skipped"]
