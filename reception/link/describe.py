"""An answer file as staff read it, in the 連携 pane: one line per patient; a PDF by its
size, a ZIP by its entries (the XML inside described as any answer)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from reception.link.kinds import reference
from reception.link.request import text
from reception.link.terms import MAX_REQUEST_BYTES, excerpt
from reception.results import VALIDITY_LABELS, xml_to_message
from reception.shared_folder import read_file


def describe_answer(path: Path) -> list[str]:
    """An answer file as staff read it: one line per patient (一括照会: every patient),
    each at most ``ECHO_LIMIT`` characters (res/ is written by others too)."""
    return [excerpt(line) for line in _described(path)]


def _described(path: Path) -> list[str]:
    try:
        data = read_file(path, MAX_REQUEST_BYTES)  # never through a symlink, never a FIFO
    except FileNotFoundError:  # clinic software takes what it has read (into trash/)
        return ["レセコンが取り込みました（もうフォルダにありません）"]
    except OSError as exc:
        return [f"読めません: {exc.strerror or exc}"]
    if data is None:
        return ["読めません: 4 MiB を超えています"]
    if data.startswith(b"%PDF-"):
        return [f"PDF {len(data):,} バイト（PDF ビューアで開いてください）"]
    if data.startswith(b"PK\x03\x04"):
        return _zip(data)
    return _xml(data)


def _zip(data: bytes) -> list[str]:
    """A ZIP answer: its entries, and the first XML inside described (never more than
    ``MAX_REQUEST_BYTES`` of it read: res/ is written by others too)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = "、".join(e.filename for e in entries[:5])
            head = [f"ZIP {len(entries)}件: {names}"]
            xml = next((e for e in entries if e.filename.lower().endswith(".xml")), None)
            if xml is None:
                return head
            if xml.flag_bits & 0x1:
                return [*head, "暗号化されています（設定のパスワードで開けます）"]
            with archive.open(xml) as member:
                inner = member.read(MAX_REQUEST_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError) as exc:
        return [f"読めません: ZIP として開けません（{exc}）"]
    if len(inner) > MAX_REQUEST_BYTES:
        return [*head, "読めません: 中の XML が 4 MiB を超えています"]
    return [*head, *_xml(inner)]


def _xml(data: bytes) -> list[str]:
    try:
        message = xml_to_message(data)
    except ValueError as exc:
        return [f"読めません: {exc}"]
    header = message.get("MessageHeader") or {}
    if not isinstance(header, dict) or text(header, "SegmentOfResult") == "9":
        code = text(header, "ErrorCode") if isinstance(header, dict) else None
        return [f"エラー {code}: {text(header, 'ErrorMessage') if code else ''}"]
    body = message.get("MessageBody") or {}
    body = body if isinstance(body, dict) else {}
    number = text(header, "ReceptionNumber") or text(body, "ReceptionNumber")
    if text(header, "SegmentOfResult") == "2" or "ReceptionDateTime" in body:
        return [f"処理中（ReceptionNumber {number}）"]
    registrations = reference.described(body)  # 照会番号
    if registrations is not None:
        return registrations
    bulk = body.get("BulkConfirmUnit")
    patients = bulk if isinstance(bulk, list) else [bulk] if bulk is not None else [body]
    lines = [f"{len(patients)}件"] if bulk is not None else []
    for patient in patients:
        if not isinstance(patient, dict):
            continue
        search = patient.get("QualificationConfirmSearchInfo")
        who = text(search, "InsuredIdentificationNumber") if isinstance(search, dict) else None
        validity = VALIDITY_LABELS.get(text(patient, "QualificationValidity") or "", "—")
        entries = patient.get("ResultList") or patient  # one query's, or a bulk unit's
        found = (
            entries.get("ResultOfQualificationConfirmation", [])
            if isinstance(entries, dict)
            else []
        )
        found = found if isinstance(found, list) else [found]
        names = "、".join(e.get("Name", "") for e in found if isinstance(e, dict))
        lines.append(f"番号 {who or '—'}  {validity}  {names}".rstrip())
    return lines
