"""Exports of a day's receptions: ``XmlMsg`` result files, or one CSV.

XML: one file per result, laid out like the terminal's result folders (oqs.md §1,
§7): card confirmations in ``face/`` as
``OQSsiquc01res_face_<医療機関コード><20 hex>_<ProcessExecutionTime>.xml``, the form of real
face files (:func:`reception.results.face_file_token`; ``reception result-file NAME``
tells the reception of one), queries by number in ``res/`` as
``OQSsiquc01res_<reception id>_<ProcessExecutionTime>.xml``; UTF-8, the documented
elements of oqs.md §2 only, in the format's order (the simulator's notices stay out).
Every file appears whole: written under a hidden name created exclusively, then renamed
(never through a symlink, :mod:`reception.shared_folder`), and private: 0600, or 0640
with the group of ``link.group``.
CSV: ``receptions-YYYY-MM-DD.csv`` (UTF-8 with BOM, for spreadsheet programs).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from reader.safe_text import printable
from reception.results import QualificationResult, face_file_token
from reception.shared_folder import FilePrivacy, write_file
from reception.store import Store

CSV_COLUMNS = [
    "reception_id",
    "started_at",
    "method",
    "variant",
    "status",
    "reason",
    "validity",
    "insurer_number",
    "symbol",
    "number",
    "branch",
    "name",
    "name_kana",
    "birthdate",
    "ratio",
    "notices",
    "apdus",
    "total_ms",
]


def _element(parent: ET.Element, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _element(parent, name, item)
        return
    child = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _element(child, key, inner)
        if len(child) == 0:
            parent.remove(child)  # an empty container is left out, as in real files
    else:
        # the result came from outside: XML 1.0 cannot carry controls, so they are shown
        # as ␛ / � and the file stays well-formed whatever the service sent
        child.text = printable(str(value))


ENCODINGS = {"0": ("UTF-8", "utf-8"), "1": ("Shift_JIS", "cp932")}


def xml_message(result: QualificationResult) -> bytes:
    """The result as a real result file: ``XmlMsg`` with its two parts, nothing else, in
    the encoding its ``CharacterCodeIdentifier`` names (0 UTF-8, 1 Shift_JIS)."""
    return xml_document(
        result.model_dump(by_alias=True, exclude_none=True, exclude={"mock_notices"})
    )


def xml_document(data: dict[str, Any]) -> bytes:
    """``{"MessageHeader": …, "MessageBody": …}`` as an ``XmlMsg`` document, elements in
    the order given, absent (None) ones left out."""
    root = ET.Element("XmlMsg")
    for key in ("MessageHeader", "MessageBody"):
        child = ET.SubElement(root, key)
        for name, value in data.get(key, {}).items():
            _element(child, name, value)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    code = str(data.get("MessageHeader", {}).get("CharacterCodeIdentifier") or "0")
    name, codec = ENCODINGS.get(code, ENCODINGS["0"])
    text = f'<?xml version="1.0" encoding="{name}" standalone="no"?>\n{body}\n'
    # what Shift_JIS cannot carry becomes a character reference, never an error
    return text.encode(codec, errors="xmlcharrefreplace")


def result_file_name(result: QualificationResult, reception_id: str) -> str:
    """``face/…`` or ``res/…`` as oqs.md §2/§7 name them."""
    header = result.message_header
    if header.by_number:
        return f"res/OQSsiquc01res_{reception_id}_{header.process_execution_time}.xml"
    code = header.medical_institution_code or "0" * 10
    token = face_file_token(reception_id, header.process_execution_time)
    return f"face/OQSsiquc01res_face_{code}{token}_{header.process_execution_time}.xml"


def write_atomically(path: Path, data: bytes, privacy: FilePrivacy | None = None) -> None:
    """The file appears whole or not at all (a watcher never sees it half-written),
    private, and never through a symlink planted in its folder."""
    write_file(path, data, privacy)


def export_xml(
    store: Store, day: dt.date, out: Path, privacy: FilePrivacy | None = None
) -> list[Path]:
    written = []
    for reception in store.receptions_on(day):
        for result in store.results_of(reception.reception_id):
            path = out / result_file_name(result, reception.reception_id)
            write_atomically(path, xml_message(result), privacy)
            written.append(path)
    return written


def export_csv(store: Store, day: dt.date, out: Path, privacy: FilePrivacy | None = None) -> Path:
    path = out / f"receptions-{day.isoformat()}.csv"
    with io.StringIO(newline="") as fh:
        writer = csv.DictWriter(fh, CSV_COLUMNS)
        writer.writeheader()
        for r in store.receptions_on(day):
            results = store.results_of(r.reception_id)
            last = results[-1] if results else None
            entry = last.entries[0] if last is not None and len(last.entries) == 1 else None
            row = {
                "reception_id": r.reception_id,
                "started_at": r.started_at,
                "method": r.method or "",
                "variant": r.variant or "",
                "status": r.status,
                "reason": r.reason or "",
                "validity": last.validity_label if last else "",
                "insurer_number": (entry.insurer_number or "").strip() if entry else "",
                "symbol": entry.insured_card_symbol if entry else "",
                "number": entry.insured_identification_number if entry else "",
                "branch": entry.insured_branch_number if entry else "",
                "name": entry.name if entry else "",
                "name_kana": entry.name_kana if entry else "",
                "birthdate": entry.birthdate if entry else "",
                "ratio": entry.ratio if entry else "",
                "notices": " / ".join(last.notices) if last else "",
                "apdus": r.apdu_count if r.apdu_count is not None else "",
                "total_ms": r.timings.get("total", ""),
            }
            writer.writerow({key: printable(str(value)) for key, value in row.items()})
        text = fh.getvalue()
    write_atomically(path, text.encode("utf-8-sig"), privacy)
    return path
