"""Checking a result document against the format table (mock_oqs.format), read back with
the standard library's parser, independent of the writer that made it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mock_oqs.format import XMLMSG, Element

CONSENT_FLAGS = [
    "LimitApplicationCertificateRelatedConsFlg",
    "SpecificDiseasesCertificateRelatedConsFlg",
    "SpecificHealthCheckupsInfoConsFlg",
    "PharmacistsInfoConsFlg",
    "DiagnosisInfoConsFlg",
    "OperationInfoConsFlg",
]


def _problems(node: ET.Element, spec: Element, path: str) -> list[str]:
    found: list[str] = []
    here = f"{path}/{node.tag}"
    if not spec.children:
        if len(node):
            found.append(f"{here}: holds elements, expected text")
        elif not spec.matches(node.text or ""):
            found.append(f"{here}: {node.text!r} does not match {spec.pattern!r}")
        return found
    order = [child.name for child in spec.children]
    tags = [child.tag for child in node]
    for tag in tags:
        if tag not in order:
            found.append(f"{here}/{tag}: not an element of the format")
    for child_spec in spec.children:
        count = tags.count(child_spec.name)
        if child_spec.required and count == 0:
            found.append(f"{here}/{child_spec.name}: required, missing")
        if count > 1 and not child_spec.repeated:
            found.append(f"{here}/{child_spec.name}: occurs {count} times")
    known = [order.index(tag) for tag in tags if tag in order]
    if known != sorted(known):
        found.append(f"{here}: elements out of the format's order: {tags}")
    for child in node:
        if child.tag in order:
            found += _problems(child, spec.child(child.tag), here)
    return found


def check_xmlmsg(data: bytes) -> ET.Element:
    """The parsed document; AssertionError listing every way it breaks the format. Expat
    reads no multi-byte encoding: a Shift_JIS document is decoded here first."""
    head, _, rest = data.partition(b"?>")
    if b'encoding="Shift_JIS"' in head:
        root = ET.fromstring(rest.decode("cp932"))  # noqa: S314 (our own output, in a test)
    else:
        root = ET.fromstring(data)  # noqa: S314 (our own output, in a test)
    assert root.tag == "XmlMsg", root.tag
    problems = _problems(root, XMLMSG, "")
    assert not problems, "\n".join(problems)
    return root


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall("MessageBody/ResultList/ResultOfQualificationConfirmation")
