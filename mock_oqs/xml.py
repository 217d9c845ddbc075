"""The ``XmlMsg`` document of a result (oqs.md §2), UTF-8 or Shift_JIS.

Elements are written in the order of :data:`mock_oqs.format.XMLMSG`; an element
the table does not have is refused (``ValueError``), so that nothing outside the
format reaches a result file. Absent values (``None``, empty lists) are left
out, as real files leave them out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from mock_oqs.format import XMLMSG, Element
from reader.safe_text import printable

ENCODINGS = {"0": "UTF-8", "1": "Shift_JIS"}


def _fill(parent: ET.Element, spec: Element, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        if not spec.repeated:
            raise ValueError(f"{spec.name} occurs once, got a list")
        for item in value:
            _one(parent, spec, item)
        return
    _one(parent, spec, value)


def _one(parent: ET.Element, spec: Element, value: Any) -> None:
    if value is None:
        return
    element = ET.SubElement(parent, spec.name)
    if not spec.children:
        if isinstance(value, dict | list):
            raise ValueError(f"{spec.name} holds text, got {type(value).__name__}")
        # the service's own data, but XML 1.0 cannot carry controls at all: never ill-formed
        element.text = printable(str(value))
        return
    if not isinstance(value, dict):
        raise ValueError(f"{spec.name} holds elements, got {type(value).__name__}")
    names = {child.name for child in spec.children}
    unknown = sorted(set(value) - names)
    if unknown:
        raise ValueError(f"not elements of {spec.name}: {', '.join(unknown)}")
    for child in spec.children:
        _fill(element, child, value.get(child.name))
    if len(element) == 0 and parent.tag != "XmlMsg":
        parent.remove(element)  # an empty container is left out (e.g. a refusal's ResultList)


def render_xml(message: dict[str, Any]) -> bytes:
    """``<XmlMsg><MessageHeader>…</MessageHeader><MessageBody>…</MessageBody></XmlMsg>``,
    in the encoding its ``CharacterCodeIdentifier`` names (0 UTF-8, 1 Shift_JIS)."""
    header = message.get("MessageHeader") or {}
    character_code = str(header.get("CharacterCodeIdentifier") or "0")
    encoding = ENCODINGS.get(character_code)
    if encoding is None:
        raise ValueError(f"CharacterCodeIdentifier is 0 or 1, got {character_code!r}")
    root = ET.Element(XMLMSG.name)
    unknown = sorted(set(message) - {child.name for child in XMLMSG.children})
    if unknown:
        raise ValueError(f"not elements of XmlMsg: {', '.join(unknown)}")
    for child in XMLMSG.children:
        _fill(root, child, message.get(child.name))
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    head = f'<?xml version="1.0" encoding="{encoding}" standalone="no"?>\n'
    # what Shift_JIS cannot carry becomes a character reference, never an error
    return (head + text + "\n").encode(encoding.lower(), errors="xmlcharrefreplace")
