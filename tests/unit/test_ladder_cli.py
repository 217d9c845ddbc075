"""The ladder from the command line (issue 22 §1, §2): each command names the reception it
acts on, a rung that settles the visit shows in `reception list` / `pending` and their
`--json`, and a settled reception or another patient's 申立書 is refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reception.cli import main
from reception.results import QualificationResult
from reception.store import Store
from tests.support.desk import result_named
from tests.support.forms import valid


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    return Store(tmp_path / "data" / "reception.sqlite")


def invalid_result(name: str) -> QualificationResult:
    return result_named(name, validity="2", ratio="030")


def waiting(store: Store, name: str, status: str = "fallback") -> str:
    rid = store.begin_reception()
    store.finish_reception(rid, status=status, reason="該当資格なし", result=invalid_result(name))
    return rid


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], *command: str) -> Any:
    code, out, err = run([*command, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_the_notice_seen_settles_the_reception_everywhere(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    takahashi, ito = waiting(store, "高橋 陽菜"), waiting(store, "伊藤 美咲", "pending")
    waiting_ids = [r["reception_id"] for r in listed(capsys, "pending")["receptions"]]
    assert waiting_ids == [takahashi, ito]

    code, out, err = run(
        # the reception knows no birth date: staff give it (a 70+ お知らせ expires)
        [
            "step",
            takahashi,
            "notice",
            "--detail",
            "お知らせ 協会けんぽ 3割",
            "--birth-date",
            "1990-04-02",
        ],
        capsys,
    )
    assert code == 0, err
    heading, *rest = out.splitlines()
    assert heading == f"受付 {takahashi} ・ 高橋 陽菜 ・ 要代替確認"
    assert "確認済（お知らせ）" in "\n".join(rest)

    rows = {r["reception_id"]: r for r in listed(capsys, "list")}
    assert rows[takahashi]["status"] == "confirmed-notice"
    assert rows[takahashi]["status_label"] == "確認済（お知らせ）" and rows[takahashi]["settled"]
    assert rows[ito]["status"] == "pending" and not rows[ito]["settled"]
    assert rows[ito]["name"] == "伊藤 美咲" and rows[ito]["ratio"] is None  # 無効: no share
    pending = listed(capsys, "pending")
    assert [r["reception_id"] for r in pending["receptions"]] == [ito]
    code, out, _ = run(["list"], capsys)
    assert any(takahashi in line and "確認済（お知らせ）" in line for line in out.splitlines())


def test_a_settled_reception_is_refused_with_exit_2(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = waiting(store, "高橋 陽菜")
    assert run(["no-card", "--reception", rid], capsys)[0] == 0
    steps = store.steps_of(rid)
    for command in (
        ["step", rid, "portal", "--detail", "マイナポータル 3割"],
        ["no-card", "--reception", rid],
    ):
        code, out, err = run(command, capsys)
        assert code == 2 and "既に「10割負担（療養費払い）」" in err and "高橋 陽菜" in err
        assert out == ""
    assert store.steps_of(rid) == steps and store.reception(rid).status == "self-pay"


def test_a_declaration_for_another_patient_is_refused(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 22 §1: 高橋 陽菜's 申立書 was saved on 伊藤 美咲's reception without a word."""
    ito = waiting(store, "伊藤 美咲")
    form = tmp_path / "form.json"
    form.write_text(json.dumps(valid(name="高橋 陽菜"), ensure_ascii=False), encoding="utf-8")
    code, out, err = run(["declare", "--json-file", str(form), "--reception", ito], capsys)
    assert code == 2 and "高橋 陽菜" in err and "伊藤 美咲" in err and out == ""
    assert store.declarations() == [] and store.reception(ito).status == "fallback"

    takahashi = waiting(store, "高橋 陽菜")
    code, out, err = run(["declare", "--json-file", str(form), "--reception", takahashi], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == f"受付 {takahashi} ・ 高橋 陽菜 ・ 要代替確認"
    assert "被保険者資格申立書を受け付けました" in out
    rows = {r["reception_id"]: r["status"] for r in listed(capsys, "list")}
    assert rows == {ito: "fallback", takahashi: "declared"}
    pending = listed(capsys, "pending")
    assert [r["reception_id"] for r in pending["receptions"]] == [ito]
    assert [d["reception_id"] for d in pending["declarations"]] == [takahashi]


def test_the_counter_route_refuses_a_settled_reception(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """居宅同意取得型 on a reception already 10割: refused before any card or service."""
    rid = waiting(store, "高橋 陽菜")
    run(["no-card", "--reception", rid], capsys)
    code, out, err = run(
        ["checkin", "--route", "counter", "--reception", rid, "--method", "visual"], capsys
    )
    assert code == 2 and "既に「10割負担（療養費払い）」" in err and out == ""
