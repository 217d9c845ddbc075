"""Shared by the マイナ資格確認アプリ's and 資格確認限定型's headless tests: a world of their own
served by `mock-oqs serve`, settings through the environment, the CLI in process, a code
issued, a home visit, and the 訪問診療 bulk (OQSmuhvq) as OQSDrug2 runs it."""

from __future__ import annotations

import datetime as dt
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from tests.support.cli import copied_world, run_cli, service_env
from tests.support.link import Running, answer, drop
from tests.support.stack import WORLD_TODAY, mock_oqs_serving

NUMBERS = count(5001)


def day(offset: int) -> str:
    return (WORLD_TODAY + dt.timedelta(days=offset)).strftime("%Y%m%d")


def _request(link: Running, fields: list[tuple[str, str]], phase: str) -> bytes:
    """As OQSDrug2's BulkQualificationService writes it (tests/integration/test_link_period.py)."""
    code = "1312345678"
    lines = ['<?xml version="1.0" encoding="Shift_JIS" standalone="no"?>', "<XmlMsg>"]
    lines += ["<MessageHeader>", f"<MedicalInstitutionCode>{code}</MedicalInstitutionCode>"]
    if phase == "01":
        lines.append("<ArbitraryFileIdentifier>home-visit</ArbitraryFileIdentifier>")
        lines += ["</MessageHeader>", "<MessageBody><QualificationConfirmSearchInfo>"]
        lines += [f"<{n}>{v}</{n}>" for n, v in fields]
        lines.append("</QualificationConfirmSearchInfo></MessageBody>")
    else:
        lines += ["</MessageHeader>", "<MessageBody>"]
        lines += [f"<{n}>{v}</{n}>" for n, v in fields]
        lines.append("</MessageBody>")
    lines.append("</XmlMsg>")
    return "\r\n".join(lines).encode("cp932")


def visits_on(link: Running, offset: int = 0) -> ET.Element:
    """OQSmuhvq for one day (phase 01, then 02 until SegmentOfResult 1): the answer."""
    span = [("ConsentDateFrom", day(offset)), ("ConsentDateTo", day(offset))]
    first = f"OQSmuhvq01req_20261124{next(NUMBERS):04d}.xml"
    drop(link.folder, first, _request(link, [*span, ("MedicalTreatmentFlag", "2")], "01"))
    number = answer(link.folder, first).findtext(".//ReceptionNumber")
    assert number
    for _ in range(100):
        second = f"OQSmuhvq02req_20261124{next(NUMBERS):04d}.xml"
        drop(link.folder, second, _request(link, [("ReceptionNumber", number)], "02"))
        result = answer(link.folder, second)
        if result.findtext(".//SegmentOfResult") == "1":
            return result
        time.sleep(0.05)
    raise AssertionError("the bulk never finished")


VISIT_TODAY = [
    ("ConsentDateFrom", day(0)),
    ("ConsentDateTo", day(0)),
    ("MedicalTreatmentFlag", "2"),
]


@pytest.fixture(scope="module")
def app_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> World:
    """A copy of the session's world: the app's confirmations are kept in its service."""
    return copied_world(
        world,
        tmp_path_factory,
        "home-visit",
        ignore=("service-state.sqlite*", "mock-oqs.log", "clinic"),
    )


@pytest.fixture(scope="module")
def server(app_world: World) -> Iterator[str]:
    with mock_oqs_serving(app_world, workers=1) as (_, url):
        yield url


@pytest.fixture
def env(app_world: World, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return service_env(app_world, server, tmp_path, monkeypatch)


cli = run_cli  # the app's tests' name for it


def issue(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = cli(["app-code", "--json"], monkeypatch, capsys)
    assert code == 0, err
    return str(json.loads(out)["code"])


def visit(
    world: World,
    persona: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    method: str = "pin",
) -> tuple[int, dict[str, Any], str]:
    args = ["home-visit", "--world", str(world.directory), "--persona", persona]
    args += ["--method", method, "--json", *extra]
    pin = f"{world.persona(persona)['pin']}\n" if "--pin-stdin" in extra else ""
    code, out, err = cli(args, monkeypatch, capsys, pin)
    return code, json.loads(out) if out.strip().startswith("{") else {}, err
