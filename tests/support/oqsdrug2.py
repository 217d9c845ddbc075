"""Requests as YUKI-ENT/OQSDrug2 writes them (``OQSDrug/Form1.cs`` ``GenerateXML``): .NET's
XmlWriter — its own declaration line, then two-space indent and CRLF, ``<X />`` for an empty
value — Shift_JIS, the patient in ``MessageHeader``."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

from mock_oqs.world import World
from tests.support.link import answer_path

CLINIC = "1312345678"


def oqsdrug2_request(
    world: World,
    persona: str,
    kind: str,
    category: int,
    *,
    start: str | None = "202311",
    end: str | None = "202611",
    encoding: str = "Shift_JIS",
    branch: bool = True,
    drop_header: str | None = None,
) -> bytes:
    """What ``GenerateXML`` writes (``kind`` YZK or TKK: a TKK request has no dates)."""
    numbers = world.persona(persona)["numbers"]
    header = [
        ("MedicalInstitutionCode", CLINIC),
        ("InsurerNumber", numbers["current_insurer_number"]),
        ("InsuranceCardSymbol", numbers["current_symbol"]),
        ("InsuredPersonIdentificationNumber", numbers["current_number"]),
        ("BranchNumber", numbers["current_branch"] if branch else ""),
        ("ArbitraryFileIdentifier", "12340"),
    ]
    body: list[tuple[str, str | None]] = []
    if kind == "YZK":
        body += [("StartDate", start), ("EndDate", end)]
    body += [("FileCategory", str(category)), ("PrDiInfClassification", "1")]
    body += [("MedicalTreatmentFlag", "1")]

    def element(name: str, value: str | None, indent: str) -> str:
        return f"{indent}<{name}>{value}</{name}>" if value else f"{indent}<{name} />"

    lines = ["<XmlMsg>", "  <MessageHeader>"]
    lines += [element(n, v, "    ") for n, v in header if n != drop_header]
    lines += ["  </MessageHeader>", "  <MessageBody>"]
    lines += [element(n, v, "    ") for n, v in body if v is not None]
    lines += ["  </MessageBody>", "</XmlMsg>"]
    declaration = f'<?xml version="1.0" encoding="{encoding}" standalone="no"?>\n'
    codec = "cp932" if encoding == "Shift_JIS" else "utf-8"
    return (declaration + "\r\n".join(lines)).encode(codec)


def request_name(kind: str, category: int, patient: str) -> str:
    return f"{kind}siquc01req_{category:02d}2611241030{patient}.xml"


def reply(folder: Path, name: str, suffix: str = ".xml", seconds: float = 15.0) -> bytes:
    path = answer_path(folder, name).with_suffix(suffix)
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"no answer {path.name!r}"
        time.sleep(0.02)
    return path.read_bytes()


def loaded(data: bytes) -> ET.Element:
    """As ``XmlDocument.Load``: the encoding its declaration names."""
    declared = data.split(b"?>", 1)[0]
    assert b'encoding="UTF-8"' in declared or b'encoding="Shift_JIS"' in declared
    return ET.fromstring(data)  # noqa: S314 (our own answer)
