"""照会番号: ``OQSsiimm01req`` (one registration), ``OQSmuimm01req`` / ``OQSmuimm02req`` (many,
in two phases like 一括照会) — the clinic's own patient id registered against a
qualification; later results of that person at this clinic carry it as ``ReferenceNumber``
(the face/ files, 一括照会's ``BulkConfirmUnit``).

What the shapes rest on (YUKI-ENT/MynaReception, ReceptionAgent; its docs name the
interfaces OQS-IF-003 単件登録, OQS-IF-009 一括登録要求, OQS-IF-012 一括登録結果):

- The requests: ``ReferenceNumberRequestBuilder.Build`` writes Shift_JIS with
  ``standalone="no"``, ``MessageHeader`` {``MedicalInstitutionCode``,
  ``ArbitraryFileIdentifier``} and ``MessageBody/ReferenceNumberRegistrationInfo``
  {``ReferenceNumber``, ``InsurerNumber`` (padded with spaces to 8), ``InsuredCardSymbol``,
  ``InsuredIdentificationNumber``, ``InsuredBranchNumber``} — no birth date, no
  ``CharacterCodeIdentifier``; for one registration it leaves out an empty 記号 and 枝番
  (``SingleRegistrationTests``), for the bulk upload it writes them empty.
  ``ReferenceNumberRegistrationService.DownloadRequest`` writes ``OQSmuimm02req`` as
  ``MessageHeader/MedicalInstitutionCode`` and ``MessageBody/ReceptionNumber`` only.
  Nothing public writes the simulator's earlier shape (``MessageBody/ReferenceNumber`` with a
  ``QualificationConfirmSearchInfo`` and a birth date): it is refused, LINK-E003 naming
  the element expected.
- ``OQSsiimm01res``: the real answer reported in ``SingleRegistrationTests``
  (``ServerResponse``, "Real OQS response structure reported on 2026-09-30"): header
  {``ProcessExecutionTime``, ``CharacterCodeIdentifier``, ``SegmentOfResult``,
  ``ArbitraryFileIdentifier``, ``MedicalInstitutionCode``}, body
  {``ReferenceNumberRegistrationInfo`` (``InsurerNumber``, ``InsuredIdentificationNumber``,
  ``ReferenceNumber``, ``InsuredCardSymbol``, ``InsuredBranchNumber``, in that order),
  ``ProcessingResultStatus``}; a registration not made adds ``ProcessingResultCode`` and
  ``ProcessingResultMessage`` after the status (the same test's failed answer).
  ``SingleReferenceRegistrationService.ParseResult`` reads each of
  ``MedicalInstitutionCode``, ``ArbitraryFileIdentifier`` (both required),
  ``SegmentOfResult``, ``ErrorCode``, ``ProcessingResult…`` and ``ReferenceNumber`` as the
  one descendant of that name — so no name occurs twice in the answer.
- ``OQSmuimm01res``: as ``OQSmuquc01res`` (:func:`reception.link.kinds.bulk.accepted`);
  ``ReferenceNumberResultParser.UploadReception`` reads the header's
  ``MedicalInstitutionCode`` and ``ArbitraryFileIdentifier`` (the upload's), no
  ``ErrorCode``, ``MessageBody/ProcessingResultStatus`` empty or 1, and
  ``MessageBody/ReceptionNumber``.
- ``OQSmuimm02res``: ``ReferenceNumberResultParser.Final`` reads the header's
  ``MedicalInstitutionCode``, ``ArbitraryFileIdentifier`` — the **upload's** (the 02 request
  has none: the service keeps it with the job) — ``ReceptionNumber`` and no ``ErrorCode``,
  then every ``MessageBody/BulkRegistrationUnit`` {``ReferenceNumberRegistrationInfo``
  (the five as asked), ``ProcessingResultStatus`` 1 or 2, ``ProcessingResultCode``}; its
  test's answer adds ``ProcessingResultMessage`` (the docs' 最低限読む項目 list it too). The
  rest of the header is ``OQSmuquc02res``'s (``SegmentOfResult``, the counts:
  :func:`reception.link.kinds.bulk.results_header`); while the job runs, 2 and no unit.
  Where we chose: the unit's registration info in the order of the one real answer above.
"""

from __future__ import annotations

from typing import Any

from reader.safe_text import unsafe_characters
from reception.link.kinds import bulk
from reception.link.request import text
from reception.link.terms import BULK_MAX, Answer, Handler, LinkError
from reception.oqs_client import OqsClient, OqsRefused, PatientKey, ReferenceOutcome, Refusal

INFO = "ReferenceNumberRegistrationInfo"
MAX_REFERENCE_NUMBER = 50
FIELDS = (
    "ReferenceNumber",
    "InsurerNumber",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
)


def _infos(request: dict[str, Any]) -> list[Any]:
    """Every ``MessageBody/ReferenceNumberRegistrationInfo``; LINK-E003 naming the element
    when there is none (the simulator's earlier shape included)."""
    body = request.get("MessageBody")
    found = body.get(INFO) if isinstance(body, dict) else None
    if found is None:
        earlier = isinstance(body, dict) and (
            "ReferenceNumber" in body or "QualificationConfirmSearchInfo" in body
        )
        hint = (
            "（照会番号と保険者番号・記号・番号・枝番はこの要素の中に書きます。"
            "MessageBody/ReferenceNumber と QualificationConfirmSearchInfo の形は読みません）"
            if earlier
            else ""
        )
        raise LinkError("LINK-E003", f"MessageBody/{INFO} がありません{hint}")
    return found if isinstance(found, list) else [found]


def _registration(info: Any) -> tuple[PatientKey, str]:
    """A patient and its 照会番号 from one ``ReferenceNumberRegistrationInfo``; LINK-E003
    naming the element that is missing or malformed."""
    if not isinstance(info, dict):
        raise LinkError("LINK-E003", f"{INFO} に要素がありません")
    values = {name: text(info, name) or "" for name in FIELDS}
    for name in FIELDS:
        found = unsafe_characters(values[name])
        if found:
            shown = ", ".join(found)
            raise LinkError(
                "LINK-E003", f"{INFO}/{name} に制御文字・見えない文字があります（{shown}）"
            )
    for name in ("ReferenceNumber", "InsurerNumber", "InsuredIdentificationNumber"):
        if not values[name]:
            raise LinkError("LINK-E003", f"{INFO}/{name} がありません")
    number = values["ReferenceNumber"]
    if len(number) > MAX_REFERENCE_NUMBER:
        raise LinkError(
            "LINK-E003",
            f"{INFO}/ReferenceNumber は{MAX_REFERENCE_NUMBER}文字までです（{len(number)}文字）",
        )
    insurer, branch = values["InsurerNumber"], values["InsuredBranchNumber"]
    if not (insurer.isascii() and insurer.isdigit() and len(insurer) in (6, 8)):
        raise LinkError("LINK-E003", f"{INFO}/InsurerNumber は6桁（国保）か8桁の数字です")
    if branch and not (branch.isascii() and branch.isdigit() and len(branch) == 2):
        raise LinkError("LINK-E003", f"{INFO}/InsuredBranchNumber は2桁の数字です")
    for name in ("InsuredCardSymbol", "InsuredIdentificationNumber"):
        if len(values[name]) > 38:
            raise LinkError("LINK-E003", f"{INFO}/{name} は38文字までです")
    key = PatientKey(
        insurer_number=insurer,
        symbol=values["InsuredCardSymbol"],
        number=values["InsuredIdentificationNumber"],
        branch=branch,
    )
    return key, number


def single_header(usual: dict[str, Any]) -> dict[str, Any]:
    """``OQSsiimm01res``'s header: the elements of the real answer, in its order."""
    keep = (
        "ProcessExecutionTime",
        "CharacterCodeIdentifier",
        "SegmentOfResult",
        "ArbitraryFileIdentifier",
        "MedicalInstitutionCode",
    )
    return {name: usual.get(name) for name in keep}


def _said(outcome: ReferenceOutcome) -> str:
    number = outcome.info.get("ReferenceNumber", "")
    if outcome.status == "1":
        return f"照会番号 {number} を登録"
    return f"照会番号 {number} を登録できません: {outcome.message or outcome.code or ''}"


async def _register(client: OqsClient, request: dict[str, Any]) -> Answer:
    """OQSsiimm01: one registration; its outcome in the real answer's shape."""
    infos = _infos(request)
    if len(infos) > 1:
        raise LinkError("LINK-E003", f"{INFO} は1件です（一括登録は OQSmuimm01）")
    patient, number = _registration(infos[0])
    outcome = await client.register_reference_number(patient, number)
    return Answer(outcome.unit(), shape=single_header, summary=_said(outcome))


async def _upload(client: OqsClient, request: dict[str, Any]) -> Answer:
    """OQSmuimm01: many registrations → a ReceptionNumber at once."""
    infos = _infos(request)
    if len(infos) > BULK_MAX:
        raise LinkError("LINK-E003", f"照会番号一括登録は{BULK_MAX}件までです（{len(infos)}件）")
    registrations = []
    for position, info in enumerate(infos, start=1):
        try:
            registrations.append(_registration(info))
        except LinkError as exc:
            raise LinkError(exc.code, f"{position}件目: {exc.message}") from None
    header = request.get("MessageHeader")
    identifier = text(header, "ArbitraryFileIdentifier") if isinstance(header, dict) else None
    number = await client.start_bulk_references(registrations, identifier)
    return bulk.accepted(number, f"受付 {number}（{len(registrations)}件）")


async def _fetch(client: OqsClient, request: dict[str, Any]) -> Answer:
    """OQSmuimm02: 2 while the registrations run; 1 with one ``BulkRegistrationUnit`` per
    entry, in order, under the upload's ``ArbitraryFileIdentifier``."""
    number = bulk.reception_number(request)
    try:
        outcomes, identifier = await client.fetch_bulk_references(number)
    except OqsRefused as exc:
        if exc.reason is not Refusal.NO_SUCH_BULK:
            raise
        raise LinkError(
            "LINK-E003", f"この ReceptionNumber（{number}）の照会番号一括登録はありません"
        ) from None
    units = None if outcomes is None else [o.unit() for o in outcomes]
    results = bulk.results_header(number, units)

    def shape(usual: dict[str, Any]) -> dict[str, Any]:
        upload = {"ArbitraryFileIdentifier": identifier} if identifier else {}
        return results(usual | upload)

    if units is None:
        return Answer({}, segment="2", shape=shape, summary="処理中")
    return Answer({"BulkRegistrationUnit": units}, shape=shape, summary=f"{len(units)}件")


def described(body: dict[str, Any]) -> list[str] | None:
    """An answer of this kind as staff read it in the 連携 pane (one line a registration),
    or None when ``body`` is not one."""
    units = body.get("BulkRegistrationUnit")
    if units is None and INFO not in body:
        return None
    each = units if isinstance(units, list) else [units] if units is not None else [body]
    lines = [f"{len(each)}件"] if units is not None else []
    for unit in each:
        asked = unit.get(INFO) if isinstance(unit, dict) else None
        if not isinstance(asked, dict):
            continue
        number = text(asked, "ReferenceNumber") or "—"
        who = text(asked, "InsuredIdentificationNumber") or "—"
        if text(unit, "ProcessingResultStatus") == "1":
            lines.append(f"照会番号 {number}  番号 {who}  登録")
        else:
            why = text(unit, "ProcessingResultMessage") or text(unit, "ProcessingResultCode")
            lines.append(f"照会番号 {number}  番号 {who}  登録できません: {why or ''}")
    return lines


HANDLERS: dict[str, Handler] = {
    "OQSsiimm01req": _register,
    "OQSmuimm01req": _upload,
    "OQSmuimm02req": _fetch,
}
