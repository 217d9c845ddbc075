"""An answer file as staff read it, in the 連携 pane: one line per patient."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

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
        if data is None:
            return ["読めません: 4 MiB を超えています"]
        if path.suffix == ".zip":  # link.answer_form: the answer inside, under its name
            data = _unzipped(data)
            if data is None:
                return ["パスワード付きZIPです（中身はレセコンで開きます）"]
        message = xml_to_message(data)
    except FileNotFoundError:  # clinic software takes what it has read (into trash/)
        return ["レセコンが取り込みました（もうフォルダにありません）"]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
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


def _unzipped(data: bytes) -> bytes | None:
    """The one entry of a ZIP answer; None when it is encrypted."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        if not entries:
            raise ValueError("空のZIPです")
        entry = entries[0]
        if entry.flag_bits & 1:
            return None
        if entry.file_size > MAX_REQUEST_BYTES:
            raise ValueError("4 MiB を超えています")
        return archive.read(entry)
