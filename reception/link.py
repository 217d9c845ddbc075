"""The folder interface of the 資格確認端末 (oqs.md §7): what a レセコン / 電子カルテ talks to.

``DIR/req``: the clinic software drops a request; the answer appears in ``DIR/res`` with
the same name, ``req`` replaced by ``res``; ``DIR/face``: every card confirmation at the
reader, as it completes. Every answer is written under a hidden name and renamed, so a
watcher on ``res/`` never reads half a file. A request answered is moved to
``req/done/`` (or removed): a restart does not answer it again — and a request whose
answer is already there (the terminal died between the two steps) is only moved.

Requests (the element names of oqs.md §7):

- ``OQSsiquc01req_*``: one query by 保険者番号・記号・番号・枝番 and birth date;
- ``OQSsiimm01req_*``: register the clinic's 照会番号 (``ReferenceNumber``) for a patient;
- ``YZKsiquc01req_*`` / ``TKKsiquc01req_*``: 薬剤情報 / 特定健診情報 of a consenting patient.

The patient is named as in ``OQSsiquc01req``: ``MessageBody/QualificationConfirmSearchInfo``
(保険者番号・記号・番号・枝番・生年月日); ``OQSsiimm01req`` adds ``MessageBody/ReferenceNumber``.
The answers to OQSsiimm01 (``ReferenceNumber`` echoed) and to YZK / TKK
(``MedicationInfoList/MedicationInfo`` with ``DispensedOn``, ``Institution``, ``Drug``,
``Dose``, ``Days``; ``SpecificHealthCheckupInfoList/SpecificHealthCheckupInfo`` with
``ExaminedOn``, ``Item``, ``Value``, ``Unit``, ``Reference``) are the simulator's own
layout: the real ones are not public. They are the same records the staff console's
診療情報 tab shows.

A request that cannot be answered gets an answer all the same, ``SegmentOfResult`` 9 with
a mock error code (there is no public list of the real ones; oqs.md §3):

=========  ==============================================================================
LINK-E001  not a well-formed XML document, or not in the encoding it declares
LINK-E002  the file name's prefix is not a request this terminal answers
LINK-E003  a required element is missing or malformed (the message names it)
LINK-E004  the file is larger than 4 MiB
LINK-E005  the service could not answer (unreachable, or it refused the request)
LINK-E006  no consent for these records at this clinic (24 h after the card confirmation)
LINK-E007  (log and staff console only) the answer could not be written — e.g. a full disk;
           the request stays in req/ and is tried again when the folder is next swept
=========  ==============================================================================

A file that is not yet well-formed XML and was written in the last two seconds is taken
for one still being written (a writer that has not finished): it is tried again once it
has not changed for a moment, and only then answered as broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reception.export import write_atomically, xml_document, xml_message
from reception.oqs_client import NumberQuery, OqsClient, OqsError, OqsRateLimited, OqsRefused
from reception.results import QualificationResult, xml_to_message
from reception.store import now_jst

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a 一括照会 of 10,000 patients fits
BULK_MAX = 10_000
STILL_WRITING_SECONDS = 2.0
RETRY_SECONDS = 0.25
SWEEP_SECONDS = 1


@dataclass(frozen=True)
class Answer:
    """An answer that is not a qualification result: its body and ``SegmentOfResult``."""

    body: dict[str, Any]
    segment: str = "1"


class LinkError(Exception):
    """A request answered with ``SegmentOfResult`` 9."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LinkEvent:
    """One thing the link did, for the staff console and the log."""

    at: str
    kind: str  # request | answer | error | face
    name: str
    detail: str = ""


def answer_name(request: str) -> str:
    """``OQSsiquc01req_0001.xml`` → ``OQSsiquc01res_0001.xml`` (oqs.md §7)."""
    return request.replace("req", "res", 1) if "req" in request else f"res_{request}"


def is_request_file(path: Path) -> bool:
    """A visible ``.xml`` file: hidden and temporary names are how writers write whole."""
    return path.suffix.lower() == ".xml" and not path.name.startswith((".", "~"))


class Link:
    """The folder interface over one directory, answering through the service."""

    def __init__(
        self,
        folder: Path,
        client: OqsClient,
        *,
        institution_code: str,
        keep_done: bool = True,
        on_event: Callable[[LinkEvent], None] | None = None,
    ) -> None:
        self.folder = folder
        self.req, self.res, self.face = folder / "req", folder / "res", folder / "face"
        self.done = self.req / "done"
        self.client = client
        self.institution_code = institution_code
        self.keep_done = keep_done
        self.on_event = on_event
        self._busy: set[str] = set()

    def prepare(self) -> None:
        """The folders, and no half-written answer of a terminal that was killed."""
        for directory in (self.req, self.res, self.face, self.done):
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (self.res, self.face):
            for stale in directory.glob(".*.tmp"):
                stale.unlink(missing_ok=True)

    def _event(self, kind: str, name: str, detail: str = "") -> None:
        event = LinkEvent(now_jst().isoformat(timespec="seconds"), kind, name, detail)
        log.info("link %s %s %s", kind, name, detail)
        if self.on_event is not None:
            self.on_event(event)

    # -- the watcher ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Answer what is waiting, then every request as it arrives, until ``stop``."""
        from watchfiles import Change, awatch  # only the link needs the watcher

        self.prepare()
        await self.sweep()
        async for changes in awatch(
            self.req,
            stop_event=stop,
            step=1,
            debounce=400,
            recursive=False,
            yield_on_timeout=True,
            rust_timeout=SWEEP_SECONDS * 1000,
        ):
            if not changes:  # quiet for a while: a request whose event was lost waits no more
                await self.sweep()
            for change, name in sorted(changes, key=lambda c: c[1]):
                if change is not Change.deleted:
                    await self.handle(Path(name))

    async def sweep(self) -> None:
        """Every request waiting in req/ (at start, and when the folder has been quiet)."""
        for path in sorted(self.req.iterdir()):
            await self.handle(path)

    async def handle(self, path: Path) -> Path | None:
        """Answer one request file; the answer's path, or None (not a request, already
        answered, or still being written — then it is tried again shortly)."""
        if not is_request_file(path) or path.parent != self.req or path.name in self._busy:
            return None
        self._busy.add(path.name)
        try:
            return await self._handle(path)
        except Exception as exc:  # the watcher never dies of one request (a full disk …)
            log.exception("link: %s could not be answered", path.name)
            self._event("error", path.name, f"LINK-E007 {type(exc).__name__}: {exc}")
            return None
        finally:
            self._busy.discard(path.name)

    async def _handle(self, path: Path) -> Path | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None  # moved or removed meanwhile
        answer = self.res / answer_name(path.name)
        with contextlib.suppress(FileNotFoundError):
            if answer.stat().st_mtime_ns >= stat.st_mtime_ns:
                self._retire(path)  # answered before a restart: never twice
                return None
        request: dict[str, Any] | None = None
        error: LinkError | None = None
        if path.name.split("_", 1)[0] not in HANDLERS:
            error = LinkError("LINK-E002", f"この端末が答える要求ではありません（{path.name}）")
        else:
            try:
                data = await asyncio.to_thread(_read, path, stat.st_size)
                if data is None:
                    error = LinkError("LINK-E004", "4 MiB を超えています")
                else:
                    request = xml_to_message(data)
            except ValueError as exc:
                if time.time() - stat.st_mtime < STILL_WRITING_SECONDS:
                    self._retry_later(path)  # a writer that has not finished
                    return None
                error = LinkError("LINK-E001", str(exc))
        self._event("request", path.name)
        document = await self._answer(path.name, request, error)
        write_atomically(answer, document)
        self._retire(path)
        return answer

    def _retry_later(self, path: Path) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(RETRY_SECONDS, lambda: asyncio.ensure_future(self.handle(path)))

    def _retire(self, path: Path) -> None:
        """Moved to req/done (or removed): a restart does not answer it again."""
        if not self.keep_done:
            path.unlink(missing_ok=True)
            return
        target = self.done / path.name
        if target.exists():
            stamp = now_jst().strftime("%Y%m%d%H%M%S%f")
            target = self.done / f"{path.stem}.{stamp}{path.suffix}"
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, target)

    # -- answers ------------------------------------------------------------------------

    async def _answer(
        self, name: str, request: dict[str, Any] | None, error: LinkError | None
    ) -> bytes:
        header = (request or {}).get("MessageHeader")
        header = header if isinstance(header, dict) else {}
        try:
            if error is not None:
                raise error
            assert request is not None
            result = await HANDLERS[name.split("_", 1)[0]](self, request)
        except LinkError as exc:
            self._event("error", name, f"{exc.code} {exc.message}")
            return xml_message(self._error(header, exc))
        except OqsRefused as exc:
            failure = _refusal(exc)
            self._event("error", name, f"{failure.code} {type(exc).__name__}: {exc}")
            return xml_message(self._error(header, failure))
        except OqsError as exc:
            # a refusal names what was wrong in the request; an outage says to try later
            failure = LinkError("LINK-E005", exc.staff_message if exc.fallback else str(exc))
            self._event("error", name, f"LINK-E005 {type(exc).__name__}: {exc}")
            return xml_message(self._error(header, failure))
        if isinstance(result, QualificationResult):
            result.message_header.character_code_identifier = _character_code(header)
            self._event("answer", answer_name(name), result.validity_label)
            return xml_message(result)
        answer = result if isinstance(result, Answer) else Answer(result)
        document = {
            "MessageHeader": self._header(header, answer.segment),
            "MessageBody": answer.body,
        }
        self._event("answer", answer_name(name), "処理中" if answer.segment == "2" else "")
        return xml_document(document)

    def _header(self, request: dict[str, Any], segment: str) -> dict[str, Any]:
        """The answer's header: this terminal, the request's identifier and encoding."""
        now = now_jst()
        return {
            "ProcessExecutionTime": now.strftime("%Y%m%d%H%M%S"),
            "QualificationConfirmationDate": now.strftime("%Y%m%d"),
            "MedicalInstitutionCode": self.institution_code,
            "ArbitraryFileIdentifier": _text(request, "ArbitraryFileIdentifier"),
            "ReferenceClassification": "2",
            "SegmentOfResult": segment,
            "CharacterCodeIdentifier": _character_code(request),
        }

    def _error(self, header: dict[str, Any], error: LinkError) -> QualificationResult:
        answer = self._header(header, "9")
        answer |= {"ErrorCode": error.code, "ErrorMessage": error.message}
        return QualificationResult.parse(
            {"MessageHeader": answer, "MessageBody": {"ProcessingResultStatus": "2"}}
        )


def describe_answer(path: Path) -> list[str]:
    """An answer file as staff read it: one line per patient (一括照会: every patient)."""
    from reception.results import VALIDITY_LABELS

    try:
        message = xml_to_message(path.read_bytes())
    except (OSError, ValueError) as exc:
        return [f"読めません: {exc}"]
    header = message.get("MessageHeader") or {}
    if not isinstance(header, dict) or _text(header, "SegmentOfResult") == "9":
        code = _text(header, "ErrorCode") if isinstance(header, dict) else None
        return [f"エラー {code}: {_text(header, 'ErrorMessage') if code else ''}"]
    body = message.get("MessageBody") or {}
    bulk = body.get("QualificationConfirmationResultList") if isinstance(body, dict) else None
    if _text(header, "SegmentOfResult") == "2":
        return [f"処理中（ReceptionNumber {_text(body, 'ReceptionNumber')}）"]
    patients = bulk.get("QualificationConfirmationResult") if isinstance(bulk, dict) else [body]
    patients = patients if isinstance(patients, list) else [patients]
    lines = [f"{len(patients)}件"] if bulk else []
    for patient in patients:
        if not isinstance(patient, dict):
            continue
        search = patient.get("QualificationConfirmSearchInfo")
        who = _text(search, "InsuredIdentificationNumber") if isinstance(search, dict) else None
        validity = VALIDITY_LABELS.get(_text(patient, "QualificationValidity") or "", "—")
        entries = (patient.get("ResultList") or {}) if isinstance(patient, dict) else {}
        found = (
            entries.get("ResultOfQualificationConfirmation", [])
            if isinstance(entries, dict)
            else []
        )
        names = "、".join(e.get("Name", "") for e in found if isinstance(e, dict))
        lines.append(f"番号 {who or '—'}  {validity}  {names}".rstrip())
    return lines


def _read(path: Path, size: int) -> bytes | None:
    """The file, or None when it is over the limit (never read whole)."""
    if size > MAX_REQUEST_BYTES:
        return None
    with open(path, "rb") as fh:
        data = fh.read(MAX_REQUEST_BYTES + 1)
    return None if len(data) > MAX_REQUEST_BYTES else data


def _text(element: dict[str, Any], name: str) -> str | None:
    value = element.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _character_code(header: dict[str, Any]) -> str:
    return "1" if _text(header, "CharacterCodeIdentifier") == "1" else "0"


def _search(request: dict[str, Any], *required: str) -> dict[str, Any]:
    body = request.get("MessageBody")
    info = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    if isinstance(info, list):
        raise LinkError(
            "LINK-E003", "QualificationConfirmSearchInfo は1件です（一括照会は OQSmuquc01）"
        )
    return _checked(info, *required)


def _checked(info: Any, *required: str) -> dict[str, Any]:
    if not isinstance(info, dict):
        raise LinkError("LINK-E003", "MessageBody/QualificationConfirmSearchInfo がありません")
    for name in required:
        if _text(info, name) is None:
            raise LinkError("LINK-E003", f"QualificationConfirmSearchInfo/{name} がありません")
    return info


def _patient(request: dict[str, Any], info: Any = None) -> NumberQuery:
    """The patient a request names: 保険者番号 (国保 padded to 8), 記号, 番号, 枝番, 生年月日."""
    needed = ("InsurerNumber", "InsuredIdentificationNumber", "Birthdate")
    info = _search(request, *needed) if info is None else _checked(info, *needed)
    birth = _text(info, "Birthdate") or ""
    try:
        day = dt.datetime.strptime(birth, "%Y%m%d").date()
    except ValueError:
        raise LinkError("LINK-E003", f"Birthdate は YYYYMMDD です（{birth!r}）") from None
    header = request.get("MessageHeader")
    return NumberQuery(
        insurer_number=_text(info, "InsurerNumber") or "",
        symbol=_text(info, "InsuredCardSymbol") or "",
        number=_text(info, "InsuredIdentificationNumber") or "",
        branch=_text(info, "InsuredBranchNumber") or "",
        birth_date=day,
        limit_consent=_text(info, "LimitApplicationCertificateRelatedConsFlg") == "1",
        arbitrary_file_identifier=_text(header, "ArbitraryFileIdentifier")
        if isinstance(header, dict)
        else None,
    )


def _refusal(exc: OqsRefused) -> LinkError:
    """What the service refused, said to the clinic software."""
    if isinstance(exc, OqsRateLimited):  # held back (429): what to do, in Japanese
        return LinkError("LINK-E005", exc.staff_message)
    if exc.code == "MOCK-E008":
        return LinkError("LINK-E006", "この医療機関での同意がありません")
    if exc.code == "MOCK-E016":
        return LinkError("LINK-E006", "同意の有効期限（24時間）が過ぎました")
    if exc.code == "MOCK-E014":
        return LinkError("LINK-E003", "この ReceptionNumber の一括照会はありません")
    if exc.code in ("MOCK-E006", "MOCK-E007"):
        return LinkError("LINK-E003", f"要求の内容で確認できません: {exc.reason}")
    return LinkError("LINK-E005", f"資格確認サービスが要求を拒否しました: {exc.code}")


async def _single_query(link: Link, request: dict[str, Any]) -> QualificationResult:
    return await link.client.confirm_number(_patient(request))


async def _register_reference(link: Link, request: dict[str, Any]) -> dict[str, Any]:
    """OQSsiimm01: 照会番号 (``MessageBody/ReferenceNumber``, ≤ 50 characters)."""
    body = request.get("MessageBody")
    number = _text(body, "ReferenceNumber") if isinstance(body, dict) else None
    if number is None or len(number) > 50:
        raise LinkError("LINK-E003", "MessageBody/ReferenceNumber（50文字まで）がありません")
    registered = await link.client.register_reference_number(_patient(request), number)
    return {"ProcessingResultStatus": "1", "ReferenceNumber": registered}


def _records(kind: str, element: str) -> Callable[[Link, dict[str, Any]], Any]:
    """YZK / TKK: the records of a patient who consented at this clinic (24 h)."""

    async def fetch(link: Link, request: dict[str, Any]) -> dict[str, Any]:
        rows = await link.client.records(_patient(request), kind)
        items = [{_pascal(k): v for k, v in row.items()} for row in rows]
        return {"ProcessingResultStatus": "1", f"{element}List": {element: items}}

    return fetch


async def _bulk_upload(link: Link, request: dict[str, Any]) -> Answer:
    """OQSmuquc01: many QualificationConfirmSearchInfo → a ReceptionNumber at once, 2 (処理中)."""
    body = request.get("MessageBody")
    infos = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    infos = infos if isinstance(infos, list) else [infos]
    queries = []
    for position, info in enumerate(infos, start=1):
        try:
            queries.append(_patient(request, info))
        except LinkError as exc:
            raise LinkError(exc.code, f"{position}件目: {exc.message}") from None
    if len(queries) > BULK_MAX:
        raise LinkError("LINK-E003", f"一括照会は{BULK_MAX}件までです（{len(queries)}件）")
    number = await link.client.start_bulk(queries)
    return Answer({"ProcessingResultStatus": "1", "ReceptionNumber": number}, segment="2")


async def _bulk_fetch(link: Link, request: dict[str, Any]) -> Answer:
    """OQSmuquc02: 2 while the 一括照会 runs; 1 with every patient's result when done."""
    body = request.get("MessageBody")
    number = _text(body, "ReceptionNumber") if isinstance(body, dict) else None
    if number is None or not number.isalnum():
        raise LinkError("LINK-E003", "MessageBody/ReceptionNumber がありません")
    results = await link.client.fetch_bulk(number)
    if results is None:
        return Answer({"ProcessingResultStatus": "1", "ReceptionNumber": number}, segment="2")
    # each patient's answer: its MessageBody (the search echoed, validity, qualifications)
    each = [r.message_body.model_dump(by_alias=True, exclude_none=True) for r in results]
    return Answer(
        {
            "ProcessingResultStatus": "1",
            "ReceptionNumber": number,
            "QualificationConfirmationResultList": {"QualificationConfirmationResult": each},
        }
    )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


HANDLERS: dict[str, Callable[[Link, dict[str, Any]], Any]] = {
    "OQSsiquc01req": _single_query,
    "OQSsiimm01req": _register_reference,
    "YZKsiquc01req": _records("medications", "MedicationInfo"),
    "TKKsiquc01req": _records("checkups", "SpecificHealthCheckupInfo"),
    "OQSmuquc01req": _bulk_upload,
    "OQSmuquc02req": _bulk_fetch,
}
