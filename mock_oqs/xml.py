"""The ``XmlMsg`` document of a result (oqs.md §2), UTF-8."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from reader.safe_text import printable

# list fields whose items carry their own element name
_ITEM_NAMES = {
    "SpecificDiseasesCertificateList": "SpecificDiseasesCertificateInfo",
    "MockNotices": "Notice",
}


def _fill(parent: ET.Element, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        item_name = _ITEM_NAMES.get(key)
        if item_name is None:  # e.g. ResultOfQualificationConfirmation: repeated as is
            for item in value:
                _fill(parent, key, item)
            return
        holder = ET.SubElement(parent, key)
        for item in value:
            _fill(holder, item_name, item)
        return
    element = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(element, k, v)
    else:
        # the service's own data, but XML 1.0 cannot carry controls at all: never ill-formed
        element.text = printable(str(value))


def render_xml(message: dict[str, Any]) -> bytes:
    """``<XmlMsg><MessageHeader>…</MessageHeader><MessageBody>…</MessageBody></XmlMsg>``."""
    root = ET.Element("XmlMsg")
    for key, value in message.items():
        _fill(root, key, value)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
