"""The service's vocabulary stays at the client's edge (issue 21 §2): its codes (``MOCK-…``)
are read by ``reception/oqs_client.py`` alone and reach the rest of the terminal as a typed
reason; what a result's codes mean is asked of the result model, not compared as strings.

import-linter cannot say this (its contracts are about imports, not string literals), so
this test reads the terminal's sources."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reception.oqs_client import NumberQuery, OqsClient, OqsRateLimited, OqsRefused
from reception.results import QualificationResult
from reception.settings import OqsSettings
from reception.verdict import Refusal

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "reception" / "oqs_client.py"
PATIENT = NumberQuery(insurer_number="01130012", number="1", birth_date=dt.date(1980, 1, 1))


def mock_code_lines(tree: Path) -> list[str]:
    """Every line of the terminal (``reception/``) but its OQS client that names a mock code."""
    found = []
    for path in sorted(tree.rglob("*.py")):
        if path == tree / "oqs_client.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "MOCK-" in line:
                found.append(f"{path.relative_to(tree.parent)}:{number}: {line.strip()}")
    return found


def test_only_the_oqs_client_names_the_services_codes(tmp_path: Path) -> None:
    # the scan sees a code compared anywhere in the core, and not in the edge …
    core = tmp_path / "reception"
    (core / "tui").mkdir(parents=True)
    (core / "oqs_client.py").write_text('TABLE = {"MOCK-E008": 1}\n')
    (core / "tui" / "pane.py").write_text('if exc.code == "MOCK-E008":\n    pass\n')
    assert mock_code_lines(core) == ['reception/tui/pane.py:1: if exc.code == "MOCK-E008":']
    # … and the terminal has none but where they are read
    assert mock_code_lines(ROOT / "reception") == []
    assert "MOCK-" in EDGE.read_text(encoding="utf-8")


def refusing(status: int, code: str, headers: dict[str, str] | None = None) -> OqsClient:
    body = json.dumps({"error": {"code": code, "message": "the service's own words"}})

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body.encode(), headers=headers or {})

    return OqsClient(OqsSettings(retries=0), transport=httpx.MockTransport(handle))


def refusal_of(client: OqsClient) -> OqsRefused:
    async def go() -> None:
        async with client:
            await client.records(PATIENT, "medications")

    with pytest.raises(OqsRefused) as caught:
        asyncio.run(go())
    return caught.value


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (403, "MOCK-E008", Refusal.NO_CONSENT),
        (403, "MOCK-E016", Refusal.CONSENT_EXPIRED),
        (404, "MOCK-E007", Refusal.NO_SUCH_QUALIFICATION),
        (422, "MOCK-E006", Refusal.MALFORMED_REQUEST),
        (404, "MOCK-E014", Refusal.NO_SUCH_BULK),
        (429, "MOCK-E020", Refusal.TOO_MANY_BIRTH_DATES),
        (403, "MOCK-E999", Refusal.UNKNOWN),  # a code this terminal does not know
    ],
)
def test_a_refusal_carries_a_typed_reason_and_its_code(
    status: int, code: str, reason: Refusal
) -> None:
    refused = refusal_of(refusing(status, code))
    assert refused.reason is reason
    assert refused.code == code  # still there for the developer view and the logs
    assert code in str(refused)


def test_the_wait_of_a_rate_limit_is_said_by_reason() -> None:
    birth_dates = refusal_of(refusing(429, "MOCK-E020", {"retry-after": "60"}))
    lookups = refusal_of(refusing(429, "MOCK-E018", {"retry-after": "60"}))
    assert isinstance(birth_dates, OqsRateLimited) and isinstance(lookups, OqsRateLimited)
    assert (birth_dates.reason, lookups.reason) == (
        Refusal.TOO_MANY_BIRTH_DATES,
        Refusal.TOO_MANY_LOOKUPS,
    )
    assert not birth_dates.holds_back and "生年月日" in birth_dates.staff_message
    assert lookups.holds_back and "約60秒後に" in lookups.staff_message


def answer(status: str, code: str | None, validity: str | None) -> dict[str, Any]:
    return {
        "MessageHeader": {"ProcessExecutionTime": "20261124090000", "SegmentOfResult": "1"},
        "MessageBody": {
            "ProcessingResultStatus": status,
            "ProcessingResultCode": code,
            "QualificationValidity": validity,
        },
    }


def confirmed_by(message: dict[str, Any]) -> QualificationResult:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=message)

    async def go() -> QualificationResult:
        client = OqsClient(OqsSettings(), transport=httpx.MockTransport(handle))
        async with client:
            return await client.confirm_number(PATIENT)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("MOCK-R001", Refusal.CERTIFICATE_REVOKED),
        ("MOCK-R002", Refusal.CERTIFICATE_LAPSED),
        ("MOCK-R003", Refusal.NOT_REGISTERED),
        ("MOCK-R999", Refusal.UNKNOWN),
    ],
)
def test_a_result_the_service_did_not_confirm_says_why(code: str, reason: Refusal) -> None:
    result = confirmed_by(answer("2", code, None))
    assert result.refusal is reason
    assert result.message_body.processing_result_code == code  # exported as it came
    assert not result.is_valid


def test_a_processed_result_has_no_refusal_and_says_its_validity() -> None:
    valid = confirmed_by(answer("1", None, "1"))
    newer = confirmed_by(answer("1", None, "3"))
    assert valid.refusal is None and valid.is_valid and not valid.has_newer_qualification
    assert newer.refusal is None and not newer.is_valid and newer.has_newer_qualification
