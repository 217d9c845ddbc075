"""The bulk kinds by period (oqs.md §7): 訪問診療 (``visit``: the patients who consented on
the 居宅同意取得型 app between two days), オンライン診療 (``online``: examined, or
consented, between two days) and 医療扶助 (``aid``: the 医療券 of a month that entrust this
institution) — each a job like 一括照会's: the ``ReceptionNumber`` at once, one
qualification result per patient made in a thread of its own, fetched by that number as
its own kind only.

Within the facility's limits as 一括照会 (:mod:`mock_oqs.lookups`): jobs running and kept
(MOCK-E019), every patient listed counted against its lookups per day (MOCK-E018). The
per-job cap of entries does not apply: the clinic does not choose how many patients a
period holds. The real service's longest period is not public; ours has none.

A 訪問診療 result carries the consents the patient gave at home on the 居宅同意取得型 app
(薬剤情報・診療情報, 特定健診情報: the flags and times), while they are valid — the app
takes them there (ijnethp.com 「訪問診療等におけるオンライン資格確認（居宅同意取得型）」).

Each result is the patient's qualifications today as a confirmation answers them
(``ReferenceClassification`` 1: the patient confirmed by card, in the app or on the phone;
限度額 information provided as by law since 2024-10), their 照会番号 where the clinic
registered one. A 医療扶助 result carries the month's 医療券 entrusting this institution
(``PublicExpenseResultList/MedicalTicketInfo``), whatever month today is.

Where the cases are and how they are seeded: :mod:`mock_oqs.period_cases`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mock_oqs import period_cases
from mock_oqs.lookups import BULK_RESUMERS, Lookups
from mock_oqs.models import Consents, PatientNumbers
from mock_oqs.qualifications import Standing
from mock_oqs.results import Header, Message, to_format

if TYPE_CHECKING:
    from mock_oqs.service import QualificationService
    from mock_oqs.state import OrphanedJob

log = logging.getLogger(__name__)
KINDS = ("visit", "online", "aid")
DAY = r"^[0-9]{8}$"


def _day(text: str, name: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise ValueError(f"{name} is not a day (YYYYMMDD): {text}") from None


class _Span(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def _ordered(self, first: str, last: str, what: str) -> tuple[dt.date, dt.date]:
        start, end = _day(first, f"{what}From"), _day(last, f"{what}To")
        if start > end:
            raise ValueError(f"{what}From {first} is after {what}To {last}")
        return start, end


class VisitBulk(_Span):
    """訪問診療 (OQSmuhvq): the 居宅同意取得型 consents between two days."""

    consent_date_from: str = Field(pattern=DAY, description="ConsentDateFrom YYYYMMDD")
    consent_date_to: str = Field(pattern=DAY, description="ConsentDateTo YYYYMMDD")

    @model_validator(mode="after")
    def _check(self) -> VisitBulk:
        self.span()
        return self

    def span(self) -> tuple[dt.date, dt.date]:
        return self._ordered(self.consent_date_from, self.consent_date_to, "ConsentDate")


class OnlineBulk(_Span):
    """オンライン診療 (OQSmuonq): examinations (or consents) between two days; exactly one
    pair of dates."""

    examination_date_from: str | None = Field(default=None, pattern=DAY)
    examination_date_to: str | None = Field(default=None, pattern=DAY)
    consent_date_from: str | None = Field(default=None, pattern=DAY)
    consent_date_to: str | None = Field(default=None, pattern=DAY)

    @model_validator(mode="after")
    def _check(self) -> OnlineBulk:
        self.span()
        return self

    def span(self) -> tuple[dt.date, dt.date, bool]:
        """The days and whether they are the consents' (else the examinations')."""
        exam = (self.examination_date_from, self.examination_date_to)
        consent = (self.consent_date_from, self.consent_date_to)
        named = ((exam, "ExaminationDate"), (consent, "ConsentDate"))
        pairs = [(pair, what) for pair, what in named if pair != (None, None)]
        if len(pairs) != 1 or None in pairs[0][0]:
            raise ValueError(
                "give examination_date_from/to or consent_date_from/to (one pair, both days)"
            )
        (first, last), what = pairs[0]
        assert first is not None and last is not None
        return (*self._ordered(first, last, what), what == "ConsentDate")


class AidBulk(BaseModel):
    """医療扶助 (OQSmutic): the 医療券 of a month entrusting this institution."""

    model_config = ConfigDict(extra="forbid")

    medical_treatment_month: str = Field(
        pattern=r"^[0-9]{4}(0[1-9]|1[0-2])$", description="MedicalTreatmentMonth YYYYMM"
    )

    def month(self) -> dt.date:
        month = self.medical_treatment_month
        return dt.date(int(month[:4]), int(month[4:]), 1)


class OnlineExamination(PatientNumbers):
    """The patient's phone confirmed their qualification for an オンライン診療 at this
    facility (what the patient's app does; the simulator's terminal has no such route)."""

    examination_date: str | None = Field(
        default=None, pattern=DAY, description="the examination's day YYYYMMDD (default today)"
    )


class Periods:
    """The bulk-by-period use cases of one :class:`~mock_oqs.service.QualificationService`."""

    def __init__(self, service: QualificationService) -> None:
        self.service = service
        self.state = service.state
        self.clock = service.clock
        period_cases.ensure(self.state._conn())

    # -- recorded as the service serves ----------------------------------------------------

    def record_visit(self, person_id: str, facility: str, now: dt.datetime) -> None:
        """A card confirmed on the 居宅同意取得型 route: written with the confirmation."""
        self.state._write(
            "INSERT INTO visit_consents VALUES (?, ?, ?, ?)",
            [(person_id, facility, period_cases.COUNTER, now.isoformat())],
        )

    def record_online(self, request: OnlineExamination, facility: str) -> dict[str, str]:
        """The patient confirmed on the phone for an オンライン診療 here (today or the day
        given); the persons of these numbers (MOCK-E007 unless one)."""
        person_id, _ = self.service.lookups._person(request, facility)
        now = self.clock.now()
        asked = request.examination_date
        day = _day(asked, "examination_date") if asked else now.date()
        self.state._conn().execute(
            "INSERT INTO online_examinations VALUES (?, ?, ?, ?)",
            (person_id, facility, day.isoformat(), now.isoformat()),
        )
        return {"examination_date": day.strftime("%Y%m%d"), "consented_at": now.isoformat()}

    # -- the jobs ----------------------------------------------------------------------------

    def start(
        self, kind: str, spec: VisitBulk | OnlineBulk | AidBulk, facility: str
    ) -> tuple[str, int]:
        """A job of ``kind`` for what ``spec`` asks: its ``ReceptionNumber`` and size."""
        view = self.service.views.view()
        view.fresh()
        conns = (view.conn, self.state._conn())
        month: dt.date | None = None
        if isinstance(spec, VisitBulk):
            persons = period_cases.visits(conns, facility, *spec.span())
        elif isinstance(spec, OnlineBulk):
            start, end, by_consent = spec.span()
            persons = period_cases.online(conns, facility, start, end, by_consent=by_consent)
        else:
            month = spec.month()
            persons = period_cases.aid(view.conn, facility, month)
        number = self.state.start_bulk(
            facility,
            len(persons),
            self.service.limits,
            self.service.lookups._windows(bulk=True),
            kind=kind,
            # the persons listed are kept: a job taken over after a kill -9 answers the
            # same patients, not those of a period looked up again
            spec=spec.model_dump(exclude_none=True) | {"persons": persons},
        )
        self.run(number, facility, persons, month, 0, visits=kind == "visit")
        return number, len(persons)

    def run(
        self,
        number: str,
        facility: str,
        persons: list[str],
        month: dt.date | None,
        first: int,
        *,
        visits: bool = False,
    ) -> None:
        """The job's patients from position ``first`` on, in a thread of its own."""
        answerer = self._answerer(facility, month, visits)
        self.service.lookups.run_job(number, persons, answerer, first)

    def _consented(self, person_id: str, facility: str) -> tuple[Consents, float | None]:
        """The records the patient consented to share here, still valid (the 居宅同意取得型
        app's consents, given when the card was read at home), and until when."""
        rows = (
            self.state._conn()
            .execute(
                "SELECT item, valid_until FROM consent_records WHERE person_id = ? AND "
                "facility = ? AND valid_until >= ?",
                (person_id, facility, time.time()),
            )
            .fetchall()
        )
        items = {r[0] for r in rows}
        consents = Consents(
            medication="medication" in items,
            checkup="checkup" in items,
            operation="operation" in items,
            limit=True,
        )
        return consents, max((r[1] for r in rows), default=None)

    def _answerer(
        self, facility: str, month: dt.date | None, visits: bool = False
    ) -> Callable[[str], dict[str, Any]]:
        """One patient's result as it is stored (the format's), made in the job's thread."""
        from mock_oqs.service import Asked, _sorted  # the service imports this module

        def answer(person_id: str) -> dict[str, Any]:
            view = self.service.views.view()
            now = self.clock.now()
            standings = view.standings(person_id, now.date(), facility)
            if month is not None:
                standings = self._with_tickets(view.conn, standings, facility, month)
            header = Header.at(now, facility, "1", None)
            consents, until = (
                self._consented(person_id, facility) if visits else (Consents(limit=True), None)
            )
            asked = Asked(
                facility, now, header.process_execution_time, consents, consented_until=until
            )
            notices: list[str] = []
            body = self.service.qualification_body(standings, asked, notices, None)
            persona = standings[0].persona if standings else None
            return to_format(Message(header, body, _sorted(notices), persona=persona))

        return answer

    @staticmethod
    def _with_tickets(
        conn: Any, standings: tuple[Standing, ...], facility: str, month: dt.date
    ) -> tuple[Standing, ...]:
        """The person's 医療扶助 qualifications with the month's 医療券 entrusting here."""
        found = []
        for s in standings:
            if s.qualified.insured_card_classification != "A1":
                continue
            tickets = period_cases.tickets(conn, s.person_id, facility, month)
            qualified = dataclasses.replace(s.qualified, public_expense_result_list=tickets)
            notices = tuple(n for n in s.notices if n != "medical-aid-not-designated")
            found.append(dataclasses.replace(s, qualified=qualified, notices=notices))
        return tuple(found)

    def fetch(self, kind: str, number: str, facility: str) -> dict[str, Any]:
        """SegmentOfResult 2 while the job runs, 1 with every answer when done; a number
        of another kind (or facility) is no such job (MOCK-E014)."""
        return self.service.lookups.bulk(number, facility, (kind,), f"{kind} bulk job")


def _resume(lookups: Lookups, job: OrphanedJob) -> None:
    """A bulk job by period whose service was killed: the patients kept in its spec, from
    the answers stored on."""
    persons = job.spec.get("persons")
    if not isinstance(persons, list) or len(persons) != job.total:
        raise ValueError(f"{job.kind} {job.number}: its spec does not hold its patients")
    month = None
    if job.kind == "aid":
        month = AidBulk.model_validate(
            {"medical_treatment_month": job.spec.get("medical_treatment_month")}
        ).month()  # a ValidationError is a ValueError: dropped
    periods = lookups.service.periods
    periods.run(
        job.number,
        job.facility,
        [str(p) for p in persons],
        month,
        job.stored,
        visits=job.kind == "visit",
    )


for _kind in ("visit", "online", "aid"):
    BULK_RESUMERS[_kind] = _resume
