"""One vocabulary, one place (issue 21 §4): the clock, the consent items, the shared
records and the method labels are each defined once, and every place that names them
takes them from there — the mock service (the outside world) agrees on the words."""

from __future__ import annotations

import re
from pathlib import Path

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.world import World
from reception.cli import build_parser
from reception.flow import ALL_ITEMS, Method
from reception.oqs_client import RECORD_KINDS
from reception.present import method_label
from reception.records import KINDS
from reception.tui.widgets.questions import CONSENT_ITEMS as PANEL_CONSENTS
from reception.vocabulary import (
    METHOD_BUTTON_LABELS,
    NAMED_CONSENTS,
    ConsentItem,
    ReceptionMethod,
    Route,
    SharedRecords,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reader", "reception", "mock_oqs")


def sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_the_clinic_clock_is_defined_once() -> None:
    defining = re.compile(r"timedelta\(hours=9\)|ZoneInfo\(\s*[\"']Asia/Tokyo")
    assert [name for name, text in sources().items() if defining.search(text)] == [
        "reader/clock.py"
    ]


def test_the_shared_records_are_the_same_words_everywhere(world: World) -> None:
    assert tuple(SharedRecords) == RECORD_KINDS
    assert [kind.kind for kind in KINDS] == list(SharedRecords)
    for kind in ["all", *SharedRecords]:
        assert build_parser().parse_args(["records", "R1", "--kind", kind]).kind == kind
    spec = create_app(ServiceSettings(world=world.directory)).openapi()
    kinds = [
        parameter["schema"]
        for path in spec["paths"].values()
        for operation in path.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "kind"
    ]
    assert kinds and all(schema["enum"] == list(SharedRecords) for schema in kinds)


def test_the_consent_items_are_the_flows() -> None:
    assert frozenset(ConsentItem) == ALL_ITEMS
    assert set(NAMED_CONSENTS) <= ALL_ITEMS
    assert {key for key, _, _ in PANEL_CONSENTS} <= ALL_ITEMS


def test_the_method_labels() -> None:
    """The flow's label, the panel's buttons and the staff list's column, from one place."""
    assert [m.label for m in Method] == ["暗証番号", "顔認証", "目視確認"]
    assert METHOD_BUTTON_LABELS["ja"][Method.VISUAL] == "職員による目視確認"
    assert [method_label(m) for m in ReceptionMethod] == ["暗証番号", "顔認証", "目視", "番号照会"]
    assert method_label(ReceptionMethod.PIN, Route.COUNTER) == "暗証番号（居宅同意取得型）"
    assert method_label(None) == "—"
