"""The README's example of every request kind is true: each request, sent to a real
`reception link` over the real service exactly as the README shows it (encoded as its
declaration says), gets an answer with every element the README shows — no more, no
fewer (values such as times and ReceptionNumbers differ run to run; phase 02 is sent
with the ReceptionNumber its phase 01 gave).

``README_LINK_UPDATE=1`` writes the answers of this run into the README instead, each
repeated element kept twice at most (a comment says how many more there were): the
same elements, a page shorter."""

from __future__ import annotations

import os
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.link import Running, answer_path, drop
from tests.support.oqs import confirm, forget_service_state, make_client, nonce, pin_body

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = re.compile(
    r"<!-- link-request (?P<name>\S+)(?P<options>(?: \S+=\S+)*) -->\n```xml\n(?P<request>.*?)```"
    r".*?<!-- link-answer -->\n```xml\n(?P<answer>.*?)```",
    re.S,
)
NUMBER = re.compile(r"<ReceptionNumber>\w+</ReceptionNumber>")


def codec(xml: str) -> str:
    declared = re.search(r'encoding="([^"]+)"', xml)
    name = declared.group(1).lower() if declared else "utf-8"
    return "cp932" if name in ("shift_jis", "sjis", "cp932") else name


def paths(element: ET.Element, above: str = "") -> set[str]:
    here = f"{above}/{element.tag}"
    found = {here}
    for child in element:
        found |= paths(child, here)
    return found


def trimmed(data: bytes) -> str:
    """An answer as the README shows it: at most two of a repeated element."""
    root = ET.fromstring(data)  # noqa: S314 (our own answer)
    for parent in root.iter():
        seen: dict[str, int] = {}
        for child in list(parent):
            seen[child.tag] = seen.get(child.tag, 0) + 1
            if seen[child.tag] > 2:
                parent.remove(child)
        for tag, count in seen.items():
            if count > 2:
                parent.append(ET.Comment(f" … {count - 2} more {tag} "))
    ET.indent(root)
    declaration = data.split(b"\n", 1)[0].decode("ascii")
    return f"{declaration}\n{ET.tostring(root, encoding='unicode')}\n"


def sent(running: Running, name: str, data: bytes) -> bytes:
    drop(running.folder, name, data)
    path = answer_path(running.folder, name)
    deadline = time.monotonic() + 20
    while not path.exists():
        assert time.monotonic() < deadline, f"no answer to {name}"
        time.sleep(0.02)
    time.sleep(0.01)
    return path.read_bytes()


def test_every_example_of_the_readme_is_answered_as_shown(link: Running) -> None:
    text = README.read_text(encoding="utf-8")
    examples = list(EXAMPLE.finditer(text))
    assert len(examples) >= 15  # every kind, both phases of the bulk kinds, an error
    # what other tests of the session left in the world's state: consents, 居宅同意取得型
    # confirmations and オンライン診療 (listed by the bulk kinds by period)
    for table in ("consent_records", "visit_consents", "online_examinations"):
        forget_service_state(link.world, table)
    number = ""
    answers: list[tuple[re.Match[str], str]] = []
    for example in examples:
        name, request = example["name"], example["request"]
        options = dict(o.split("=", 1) for o in example["options"].split())
        if "consent" in options:
            client = make_client(link.world)
            persona = options["consent"]
            body = pin_body(link.world, persona, nonce(client), medication=True, checkup=True)
            assert confirm(client, body).status_code == 200
        if re.match(r"OQSmu\w{3}02req_", name):
            request = NUMBER.sub(f"<ReceptionNumber>{number}</ReceptionNumber>", request)
        data = request.encode(codec(request))
        got = sent(link, name, data)
        for attempt in range(1, 200):  # phase 02: again until done
            if b"<SegmentOfResult>2</SegmentOfResult>" not in got:
                break
            time.sleep(0.05)
            got = sent(link, name.replace(".xml", f"_{attempt}.xml"), data)
        shown = trimmed(got)
        root = ET.fromstring(got)  # noqa: S314 (our own answer)
        if re.match(r"OQSmu\w{3}01req_", name):
            number = root.findtext(".//ReceptionNumber") or ""
            assert number, f"{name}: no ReceptionNumber"
        answers.append((example, shown))
        if not os.environ.get("README_LINK_UPDATE"):
            wanted = ET.fromstring(example["answer"].encode(codec(example["answer"])))  # noqa: S314
            assert paths(root) == paths(wanted), (
                f"{name}: the README shows {sorted(paths(wanted) - paths(root))} that the "
                f"answer lacks, and lacks {sorted(paths(root) - paths(wanted))}"
            )
    if os.environ.get("README_LINK_UPDATE"):
        for example, shown in reversed(answers):
            start, end = example.span("answer")
            text = text[:start] + shown.rstrip("\n") + "\n" + text[end:]
        README.write_text(text, encoding="utf-8")
