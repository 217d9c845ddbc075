"""The doctor's view of a patient's shared records (issue 14 §1, oqs.md §5).

After the patient consents at the reader, a doctor or pharmacist may see, for 24 hours,
the 薬剤情報 (3 years), 診療情報, 手術情報 and 特定健診 results (5 years) the patient agreed
to share. :func:`fetch_records` asks the service for each kind, by the numbers of the
reception's confirmed qualification, and says per kind why nothing is shown
(「同意なし」, 「同意期限切れ」) instead of an empty table. Every look is in the audit
trail: who, when, which kind and what came back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from reception.errors import InputError
from reception.oqs_client import NumberQuery, OqsClient, OqsError, OqsRateLimited, OqsRefused
from reception.results import QualificationEntry
from reception.store import Store
from reception.verdict import Refusal
from reception.vocabulary import SharedRecords


@dataclass(frozen=True)
class RecordKind:
    kind: str  # the service's name
    label: str  # what the doctor reads
    columns: list[tuple[str, str]]  # (field, header)


KINDS = [
    RecordKind(
        SharedRecords.MEDICATIONS,
        "薬剤情報（3年）",
        [
            ("dispensed_on", "調剤日"),
            ("institution", "医療機関・薬局"),
            ("drug", "薬剤"),
            ("dose", "用法・用量"),
            ("days", "日数"),
        ],
    ),
    RecordKind(
        SharedRecords.DIAGNOSES,
        "診療情報（5年）",
        [
            ("treated_on", "診療日"),
            ("institution", "医療機関"),
            ("diagnosis", "傷病名"),
            ("treatment", "診療内容"),
        ],
    ),
    RecordKind(
        SharedRecords.OPERATIONS,
        "手術情報（5年）",
        [("operated_on", "手術日"), ("institution", "医療機関"), ("operation", "手術")],
    ),
    RecordKind(
        SharedRecords.CHECKUPS,
        "特定健診（5年）",
        [
            ("examined_on", "受診日"),
            ("item", "項目"),
            ("value", "結果"),
            ("unit", "単位"),
            ("reference", "基準値"),
        ],
    ),
]
NO_CONSENT = "同意なし"
CONSENT_EXPIRED = "同意期限切れ"


class NoRecordsPatient(InputError):
    """The reception has no confirmed qualification to name the patient by."""

    title = "診療情報を表示できません"


@dataclass
class RecordSet:
    """One kind of record for the patient: the rows, or why there are none to show."""

    kind: RecordKind
    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str | None = None  # None: shown (maybe empty); else 同意なし, 同意期限切れ, …

    @property
    def summary(self) -> str:
        return self.status or f"{len(self.rows)}件"


def confirmed_entry(store: Store, reception_id: str) -> QualificationEntry:
    """The reception's confirmed qualification (NotFound: no reception; NoRecordsPatient:
    none confirmed)."""
    store.reception(reception_id)
    confirmed = [r for r in store.results_of(reception_id) if r.confirmed]
    if not confirmed:
        raise NoRecordsPatient(
            f"受付 {reception_id} には有効な資格確認の結果がありません（診療情報は、"
            "マイナ保険証で資格を確認し、本人が同意した患者についてだけ見られます）"
        )
    return confirmed[-1].entries[0]


def patient_of(store: Store, reception_id: str) -> NumberQuery:
    """The numbers of the reception's confirmed qualification."""
    return NumberQuery.of_entry(confirmed_entry(store, reception_id))


async def fetch_records(
    client: OqsClient, store: Store, reception_id: str, *, staff: str
) -> list[RecordSet]:
    """Every kind of the reception's patient, each with its rows or its status; the look
    is audited per kind."""
    patient = patient_of(store, reception_id)

    async def one(kind: RecordKind) -> RecordSet:
        try:
            return RecordSet(kind, await client.records(patient, kind.kind))
        except OqsRateLimited as exc:  # held back (429): what to do, not a code
            return RecordSet(kind, status=f"取得できません（{exc.staff_message}）")
        except OqsRefused as exc:
            if exc.reason is Refusal.CONSENT_EXPIRED:
                return RecordSet(kind, status=CONSENT_EXPIRED)
            if exc.reason is Refusal.NO_CONSENT:
                return RecordSet(kind, status=NO_CONSENT)
            return RecordSet(kind, status=f"取得できません（{exc.code}）")  # the code, as shown
        except OqsError as exc:
            return RecordSet(kind, status=f"取得できません（{exc.title}）")

    sets = await asyncio.gather(*(one(kind) for kind in KINDS))
    for found in sets:
        store.audit(staff, "records-view", f"{found.kind.label}: {found.summary}", reception_id)
    return list(sets)
