"""Exports of a day's receptions: ``XmlMsg`` result files, or one CSV.

XML: one file per reception with a result, laid out like the terminal's result
folders (oqs.md §1): card confirmations in ``face/``, queries by number in ``res/``,
named ``OQSsiquc01res_<ProcessExecutionTime>_<reception id>.xml``, UTF-8, with the
``MessageHeader`` / ``MessageBody`` elements of oqs.md §2.
CSV: ``receptions-YYYY-MM-DD.csv`` (UTF-8 with BOM, for spreadsheet programs).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from reader.safe_text import printable
from reception.results import QualificationResult
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
    if isinstance(value, list):
        for item in value:
            _element(parent, name, item)
        return
    child = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            if inner is not None:
                _element(child, key, inner)
    elif value is not None:
        # the result came from outside: XML 1.0 cannot carry controls, so they are shown
        # as ␛ / � and the file stays well-formed whatever the service sent
        child.text = printable(str(value))


def xml_message(result: QualificationResult) -> bytes:
    data = result.model_dump(by_alias=True, exclude_none=True)
    root = ET.Element("XmlMsg")
    for key in ("MessageHeader", "MessageBody"):
        _element(root, key, data.get(key, {}))
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_xml(store: Store, day: dt.date, out: Path) -> list[Path]:
    written = []
    for reception in store.receptions_on(day):
        for result in store.results_of(reception.reception_id):
            header = result.message_header
            folder = "res" if header.reference_classification == "2" else "face"
            name = f"OQSsiquc01res_{header.process_execution_time}_{reception.reception_id}.xml"
            path = out / folder / name
            _write(path, xml_message(result))
            written.append(path)
    return written


def export_csv(store: Store, day: dt.date, out: Path) -> Path:
    path = out / f"receptions-{day.isoformat()}.csv"
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
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
    os.replace(tmp, path)
    return path
