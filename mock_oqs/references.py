"""照会番号 (the clinic's own patient id) registered against a qualification: one at a
time (what a terminal's ``OQSsiimm01req`` asks) and many at once under a ReceptionNumber
(``OQSmuimm01/02``), answered later like a 一括照会 (oqs.md §7).

A registration names the patient by the numbers of a qualification alone — 保険者番号,
記号, 番号, 枝番, no birth date (the public clinic programs write no other) — so the
numbers must lead to one person. Each registration's outcome is answered in the shape the
clinic's result file carries it: the registration as asked (``ReferenceNumberRegistrationInfo``)
and ``ProcessingResultStatus`` 1, or 2 with ``ProcessingResultCode`` /
``ProcessingResultMessage``:

=========  ==================================================================
MOCK-R004  no one has a qualification with these numbers
MOCK-R005  several persons have one (a family sharing 記号・番号): the 枝番 names one
=========  ==================================================================

A registration counts against the facility's lookups by number, each entry of a bulk one
as a 一括照会's entry does; a bulk job is a job of the state's own kind ``reference``,
fetched only as that kind (a 一括照会's ReceptionNumber is not one of these, and the
other way round).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mock_oqs.lookups import BULK_RESUMERS, Lookups
from mock_oqs.models import ReferenceRegistration
from mock_oqs.refusal import Refusal

if TYPE_CHECKING:
    from mock_oqs.service import QualificationService
    from mock_oqs.state import OrphanedJob

KIND = "reference"  # the state's job kind of a bulk registration


def registration_info(request: ReferenceRegistration) -> dict[str, str]:
    """The registration as the answer echoes it: 保険者番号 padded to 8 (国保's 6 digits
    with spaces before), the rest as asked; the order of the one real answer reported
    (MynaReception's ``SingleRegistrationTests``, module docstring of
    :mod:`reception.link.kinds.reference`)."""
    return {
        "InsurerNumber": request.insurer_number.strip().rjust(8),
        "InsuredIdentificationNumber": request.number,
        "ReferenceNumber": request.reference_number,
        "InsuredCardSymbol": request.symbol,
        "InsuredBranchNumber": request.branch,
    }


def refused(request: ReferenceRegistration, code: str, message: str) -> dict[str, Any]:
    """A registration not made: ProcessingResultStatus 2, why."""
    return {
        "ReferenceNumberRegistrationInfo": registration_info(request),
        "ProcessingResultStatus": "2",
        "ProcessingResultCode": code,
        "ProcessingResultMessage": message,
    }


class References:
    """照会番号 registrations of one :class:`~mock_oqs.service.QualificationService`."""

    def __init__(self, service: QualificationService) -> None:
        self.service = service
        self.lookups = service.lookups
        self.state = service.state
        self.limits = service.limits

    def register(
        self, request: ReferenceRegistration, facility: str
    ) -> tuple[dict[str, Any], str | None]:
        """One registration's outcome (module docstring) and the persona registered; a
        malformed request (a 保険者番号 that is none) is refused (MOCK-E006)."""
        persons = {(s.person_id, s.persona) for s in self.lookups.numbered(request, facility)}
        if not persons:
            return refused(
                request, "MOCK-R004", "この保険者番号・記号・番号・枝番の資格はありません"
            ), None
        if len(persons) > 1:
            return refused(
                request,
                "MOCK-R005",
                f"この保険者番号・記号・番号の資格は{len(persons)}人にあります"
                "（家族）: 枝番で一人を指定してください",
            ), None
        ((person_id, persona),) = persons
        self.state.register_reference_number(person_id, facility, request.reference_number)
        answer = {
            "ReferenceNumberRegistrationInfo": registration_info(request),
            "ProcessingResultStatus": "1",
        }
        return answer, persona

    def _entry(self, request: ReferenceRegistration, facility: str) -> dict[str, Any]:
        """One entry of a bulk registration: a refusal is an outcome too."""
        try:
            return self.register(request, facility)[0]
        except Refusal as exc:  # one bad entry does not stop the others
            return refused(request, exc.code, exc.message)

    def start_bulk(
        self, requests: list[ReferenceRegistration], facility: str, identifier: str | None
    ) -> str:
        """The ``ReceptionNumber`` at once; the registrations are made in a thread, their
        outcomes stored as they come, fetched by that number (:meth:`bulk`). Within the
        facility's limits, as a 一括照会 (MOCK-E018, MOCK-E019)."""
        cap = self.limits.bulk_entries
        if len(requests) > cap:
            raise Refusal(
                "MOCK-E018",
                429,
                f"a bulk registration of {len(requests)} entries: at most {cap} per job for "
                "this facility",
            )
        spec = {
            "arbitrary_file_identifier": identifier,
            "registrations": [request.model_dump(mode="json") for request in requests],
        }
        number = self.state.start_bulk(
            facility,
            len(requests),
            self.limits,
            self.lookups._windows(bulk=True),
            kind=KIND,
            spec=spec,
        )
        self.run(number, facility, requests, 0)
        return number

    def run(
        self, number: str, facility: str, requests: list[ReferenceRegistration], first: int
    ) -> None:
        """The job's registrations from position ``first`` on, in a thread of its own."""
        self.lookups.run_job(number, requests, lambda r: self._entry(r, facility), first)

    def bulk(self, number: str, facility: str) -> dict[str, Any]:
        """SegmentOfResult 2 while it runs; 1 with every outcome, in order, when done;
        the upload's ArbitraryFileIdentifier (the answer's header echoes it)."""
        answer = self.lookups.bulk(number, facility, (KIND,), "照会番号 bulk registration")
        identifier = self.state.bulk_asked(number, "arbitrary_file_identifier")
        return answer | {"ArbitraryFileIdentifier": identifier}


def _resume(lookups: Lookups, job: OrphanedJob) -> None:
    """A bulk registration whose service was killed: the registrations kept in its spec,
    from the outcomes stored on (registering again is harmless: the same number)."""
    kept = job.spec.get("registrations", [])
    requests = [ReferenceRegistration.model_validate(r) for r in kept]
    if len(requests) != job.total:
        raise ValueError(f"照会番号一括登録 {job.number}: its spec holds {len(requests)}")
    References(lookups.service).run(job.number, job.facility, requests, job.stored)


BULK_RESUMERS[KIND] = _resume
