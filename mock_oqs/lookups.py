"""Lookups by number and what they are held to: the facility's limits (design.md §6.9,
:class:`ServiceLimits`), the shared records and 一括照会 (照会番号:
:mod:`mock_oqs.references`).

Limits per facility: lookups by number — a confirmation by number, the shared records, a
照会番号 registration, each entry of a 一括照会 — are rate-limited per facility; 一括照会
jobs are capped (running and stored) and their results purged. Every 429 is kept in the
state file (table ``refusals``, one row per facility, code and minute; ``mock-oqs
refusals`` prints them) and in the access log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mock_oqs.limits import DAY
from mock_oqs.models import NumberConfirmationRequest, PatientNumbers
from mock_oqs.qualifications import Standing
from mock_oqs.records import patient_of, record_detail
from mock_oqs.refusal import Refusal, lookup_refusal
from mock_oqs.results import Header, Message, SearchInfo, to_format
from mock_oqs.rules import InsurerNumber, RuleInputError
from mock_oqs.state import OrphanedJob

if TYPE_CHECKING:
    from mock_oqs.service import QualificationService

log = logging.getLogger(__name__)
T = TypeVar("T")
BULK_BATCH = 100  # answers stored per write of a 一括照会


@dataclass(frozen=True, slots=True)
class RecordKind:
    table: str
    date: str
    consent: str  # the consent item that opens it
    years: int  # how far back the service shows


RECORDS = {
    # 診療情報・薬剤情報 are one consent; 薬剤情報 3 years, the others 5 (oqs.md §5)
    "medications": RecordKind("medications", "dispensed_on", "medication", 3),
    "diagnoses": RecordKind("diagnoses", "treated_on", "medication", 5),
    "operations": RecordKind("operations", "operated_on", "operation", 5),
    "checkups": RecordKind("checkups", "examined_on", "checkup", 5),
}


class Lookups:
    """The by-number use cases of one :class:`~mock_oqs.service.QualificationService`."""

    def __init__(self, service: QualificationService) -> None:
        self.service = service
        self.state = service.state
        self.limits = service.limits
        self.clock = service.clock

    # -- limits per facility -------------------------------------------------------------

    def _windows(self, *, bulk: bool) -> list[tuple[str, int, float]]:
        """The lookup windows that apply: a single lookup counts per minute and per day, a
        一括照会's entries per day (a job of a few hundred is one upload, not a burst)."""
        windows: list[tuple[str, int, float]] = []
        if self.limits.lookups_per_minute is not None and not bulk:
            windows.append(("minute", self.limits.lookups_per_minute, 60.0))
        if self.limits.lookups_per_day is not None:
            windows.append(("day", self.limits.lookups_per_day, DAY))
        return windows

    def charge_lookup(self, facility: str) -> None:
        """One lookup by number (a confirmation, the records, a 照会番号): MOCK-E018 past
        the facility's limit."""
        windows = self._windows(bulk=False)
        if windows:
            wait = self.state.charge(facility, 1, windows)
            if wait is not None:
                raise lookup_refusal(wait, 1, windows)

    def check_birth_date(self, request: PatientNumbers, facility: str) -> None:
        """MOCK-E020 when ``facility`` has tried too many different birth dates with these
        numbers today (:class:`ServiceLimits` ``birth_dates_per_patient``)."""
        limit = self.limits.birth_dates_per_patient
        if limit is None or request.birth_date is None:
            return
        wait = self.state.try_birth_date(
            facility, _patient_digest(request), request.birth_date, limit
        )
        if wait is not None:
            raise Refusal(
                "MOCK-E020",
                429,
                f"more than {limit} different birth dates tried with these numbers at this "
                f"facility within a day: try again in {math.ceil(wait)} s",
                retry_after=wait,
            )

    def _check_bulk_birth_dates(self, queries: Sequence[PatientNumbers]) -> None:
        """A 一括照会 that alone tries more birth dates with one patient's numbers than a
        day allows is refused whole (MOCK-E020), before any entry is charged or run."""
        limit = self.limits.birth_dates_per_patient
        if limit is None:
            return
        dates: dict[str, set[str]] = {}
        for query in queries:
            if query.birth_date is not None:
                dates.setdefault(_patient_digest(query), set()).add(query.birth_date)
        most = max((len(tried) for tried in dates.values()), default=0)
        if most > limit:
            raise Refusal(
                "MOCK-E020",
                429,
                f"a 一括照会 naming one patient's numbers with {most} different birth dates: "
                f"at most {limit} a day at this facility",
            )

    def record_refusal(self, facility: str | None, code: str, message: str) -> None:
        """The audit of a refusal that a trainer or developer should see (every 429)."""
        try:
            self.state.record_refusal(facility or "-", code, message)
        except sqlite3.Error:  # the audit failing never turns a 429 into a 500
            log.exception("could not record the refusal %s of %s", code, facility)

    # -- the patient of these numbers ----------------------------------------------------

    def numbered(self, request: PatientNumbers, facility: str) -> tuple[Standing, ...]:
        """The visible qualifications with these numbers and birth date (by-number queries,
        照会番号, records) — for a facility that has not tried too many birth dates with
        these numbers (MOCK-E020). Without a birth date (照会番号, YZK / TKK name the
        patient by the numbers alone) every person with these numbers."""
        try:
            insurer = InsurerNumber.parse(request.insurer_number)
            birth = (
                dt.datetime.strptime(request.birth_date, "%Y%m%d").date()
                if request.birth_date is not None
                else None
            )
        except (RuleInputError, ValueError) as exc:
            raise Refusal("MOCK-E006", 422, str(exc)) from None
        where = "q.insurer_number = ? AND q.symbol = ? AND q.number = ?"
        params: list[object] = [insurer.digits, request.symbol.strip(), request.number.strip()]
        if birth is not None:
            self.check_birth_date(request, facility)
            where += " AND p.birth_date = ?"
            params.append(birth.isoformat())
        if request.branch:
            where += " AND q.branch = ?"
            params.append(request.branch)
        view = self.service.views.view()
        view.fresh()
        return view.matching(where, tuple(params), self.clock.today(), facility)

    def _person(self, request: PatientNumbers, facility: str) -> tuple[str, str | None]:
        """The one person whose qualification has these numbers (any validity)."""
        persons = {(s.person_id, s.persona) for s in self.numbered(request, facility)}
        if len(persons) != 1:
            raise Refusal("MOCK-E007", 404, "no one person has a qualification with these numbers")
        return persons.pop()

    @staticmethod
    def search_info(request: NumberConfirmationRequest) -> SearchInfo:
        """What the confirmation by number asked, as the result echoes it."""
        return SearchInfo(
            insurer_number=InsurerNumber(request.insurer_number.strip()).padded,
            insured_card_symbol=request.symbol or None,
            insured_identification_number=request.number,
            insured_branch_number=request.branch or None,
            birthdate=request.birth_date,
            limit_application_certificate_related_cons_flg="1" if request.limit_consent else "0",
        )

    def records(
        self, request: PatientNumbers, facility: str, kind: str
    ) -> tuple[dict[str, Any], str | None]:
        """The shared records of the person of these numbers (newest first, within the
        window the service shows), if they consented at this facility in the last 24 h
        — the consent is the key, not a number — and the person they are of (name, kana,
        birth date, sex: what the folder interface's 薬剤情報 / 特定健診情報 files name).
        MOCK-E007 when the numbers lead to no one or to several persons (without a 枝番:
        a family), MOCK-E008 without consent, MOCK-E016 once it has expired."""
        persons = {(s.person_id, s.persona) for s in self.numbered(request, facility)}
        if len(persons) > 1:
            raise Refusal(
                "MOCK-E007",
                404,
                f"{len(persons)} persons have a qualification with these numbers: "
                "the 枝番 (branch) names one",
            )
        if not persons:
            raise Refusal("MOCK-E007", 404, "no one person has a qualification with these numbers")
        person_id, persona = persons.pop()
        record = RECORDS[kind]
        state = self.state.consent_state(person_id, facility, record.consent)
        if state != "valid":
            code, why = (
                ("MOCK-E016", "the patient's consent has expired (24 h): ask again at the reader")
                if state == "expired"
                else ("MOCK-E008", "the patient has not consented to share these records")
            )
            raise Refusal(code, 403, f"{kind}: {why}")
        since = self.clock.now().date() - dt.timedelta(days=365 * record.years)
        conn = self.service.views.view().conn
        rows = conn.execute(
            f"SELECT * FROM {record.table} WHERE person_id = ? AND {record.date} >= ? "  # noqa: S608 (constants of this module)
            f"ORDER BY {record.date} DESC",
            (person_id, since.isoformat()),
        )
        today = self.clock.today()
        found = [record_detail(conn, kind, dict(r), today) for r in rows]
        return {kind: found, "patient": patient_of(conn, person_id)}, persona

    # -- 一括照会 -----------------------------------------------------------------------------

    def start_bulk(self, queries: list[NumberConfirmationRequest], facility: str) -> str:
        """一括照会: the ``ReceptionNumber`` at once; the queries run in a thread of their
        own, their answers stored as they come (in batches), fetched by that number.
        Within the facility's limits: entries per job and per day (MOCK-E018), jobs
        running and kept (MOCK-E019). The queries are kept with the job (its ``spec``):
        a job whose service was killed is resumed where it stopped (:meth:`resume_bulk`)."""
        cap = self.limits.bulk_entries
        if len(queries) > cap:
            raise Refusal(
                "MOCK-E018",
                429,
                f"a 一括照会 of {len(queries)} entries: at most {cap} per job for this facility",
            )
        self._check_bulk_birth_dates(queries)
        spec = {"queries": [query.model_dump(mode="json") for query in queries]}
        number = self.state.start_bulk(
            facility, len(queries), self.limits, self._windows(bulk=True), spec=spec
        )
        self._run_confirm(number, facility, queries, 0)
        return number

    def _run_confirm(
        self, number: str, facility: str, queries: list[NumberConfirmationRequest], first: int
    ) -> None:
        """The job's queries from position ``first`` on, in a thread of its own."""
        self.run_job(number, queries, lambda query: self.bulk_answer(query, facility), first)

    def run_job(
        self,
        number: str,
        items: Sequence[T],
        answer: Callable[[T], dict[str, Any]],
        first: int = 0,
    ) -> None:
        """A bulk job of any kind: each of ``items`` from position ``first`` on answered by
        ``answer`` in a thread of its own, the answers stored a batch at a time (whole, so
        that a job taken over after a kill -9 runs on from the last batch stored); the job
        dropped if one answer fails unexpectedly."""

        def run() -> None:
            try:
                for start in range(first, len(items), BULK_BATCH):
                    batch = items[start : start + BULK_BATCH]
                    self.state.add_bulk_results(number, start, [answer(item) for item in batch])
            except Exception:
                log.exception("一括照会 %s failed; it is dropped", number)
                self.state.finish_bulk(number, failed=True)
                return
            self.state.finish_bulk(number)

        threading.Thread(target=run, name=f"bulk-{number}", daemon=True).start()

    def resume_bulk(self, number: str | None = None) -> int:
        """Unfinished jobs of a service that was killed or restarted — or only ``number``
        — taken over and run on from the answers stored, each by its kind's resumer
        (:data:`BULK_RESUMERS`); a job no resumer can finish (its kind has none, or it
        kept no queries: ValueError) is dropped. How many were resumed."""
        resumed = 0
        for job in self.state.claim_orphaned_bulk(number):
            resume = BULK_RESUMERS.get(job.kind)
            try:
                if resume is None:
                    raise ValueError(f"no resumer for the kind {job.kind!r}")
                resume(self, job)  # ValueError: what was asked is not kept (an old job)
            except ValueError as exc:
                log.warning("一括照会 %s cannot be resumed (%s); dropped", job.number, exc)
                self.state.finish_bulk(job.number, failed=True)
                continue
            log.info("一括照会 %s (%s): resumed at %d", job.number, job.kind, job.stored)
            resumed += 1
        return resumed

    def bulk_answer(self, query: NumberConfirmationRequest, facility: str) -> dict[str, Any]:
        """One entry's answer as it is stored: the format's (a refusal is an answer too)."""
        try:
            message = self.service.confirm_number(query, facility)
        except Refusal as exc:  # one bad entry does not stop the others
            if exc.status == 429:  # an entry over a limit: audited as a lookup's would be
                self.record_refusal(facility, exc.code, exc.message)
            header = Header.at(self.clock.now(), facility, "2", query.arbitrary_file_identifier)
            message = Message.refused(header, exc.code, exc.message)
            message = message.with_search_info(self.search_info(query))
        return to_format(message)

    def bulk(
        self,
        number: str,
        facility: str,
        kinds: Sequence[str] = ("confirm",),
        what: str = "一括照会",
    ) -> dict[str, Any]:
        """A job of one of ``kinds`` (a number of another kind, or facility, is no such
        job: MOCK-E014): SegmentOfResult 2 while it runs, 1 with every answer when done;
        a job whose worker died while others serve is taken over first."""
        found = self.state.bulk(number, facility, kinds)
        if found is not None and len(found[1]) < found[0]:
            self.resume_bulk(number)  # its worker died while others serve: this one goes on
        if found is None:
            raise Refusal("MOCK-E014", 404, f"no {what} with this ReceptionNumber here")
        total, answers = found
        done = len(answers) >= total
        return {
            "ReceptionNumber": number,
            "SegmentOfResult": "1" if done else "2",
            "total": total,
            "done": len(answers),
            "results": answers if done else [],
        }


def _patient_digest(request: PatientNumbers) -> str:
    """One patient's numbers as the birth-date limit keys them: 保険者番号 (国保's padding
    ignored), 記号 and 番号 — not the 枝番, which a guesser could vary as well."""
    numbers = "|".join(
        (request.insurer_number.strip(), request.symbol.strip(), request.number.strip())
    )
    return hashlib.sha256(numbers.encode()).hexdigest()[:32]


def _resume_confirm(lookups: Lookups, job: OrphanedJob) -> None:
    """一括照会 by number: the queries kept in the spec, from the answers stored on;
    ValueError when the spec does not hold them all."""
    queries = [NumberConfirmationRequest.model_validate(q) for q in job.spec.get("queries", [])]
    if len(queries) != job.total:
        raise ValueError(f"一括照会 {job.number}: its spec holds {len(queries)} of {job.total}")
    lookups._run_confirm(job.number, job.facility, queries, job.stored)


# how each kind of 一括照会 job goes on after its service was killed or restarted (the
# ``kind`` of its row; what it asked is its ``spec``): the bulk kinds of the folder
# interface add theirs here
BULK_RESUMERS: dict[str, Callable[[Lookups, OrphanedJob], None]] = {"confirm": _resume_confirm}
