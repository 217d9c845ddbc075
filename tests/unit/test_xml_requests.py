"""Reading ``XmlMsg`` documents from outside (request files, result files): total over any
bytes (a dict or ``ValueError``, nothing else), one pass in linear time, bounded depth."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reception.results import xml_to_message

MAX_DEPTH = 64  # reception.results.MAX_DEPTH, as the link's error table states it


def outcome(data: bytes) -> dict[str, object] | str:
    try:
        return xml_to_message(data)
    except ValueError as exc:
        return f"refused: {exc}"


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_message_or_a_refusal(data: bytes) -> None:
    outcome(data)  # anything else raised fails the test


@given(st.integers(min_value=1, max_value=60_000))
def test_nesting_of_any_depth_is_refused_beyond_the_limit(depth: int) -> None:
    """50,000-deep nesting raised RecursionError, and the link retried it every second."""
    data = b"<XmlMsg>" + b"<a>" * depth + b"x" + b"</a>" * depth + b"</XmlMsg>"
    found = outcome(data)
    if depth < MAX_DEPTH:
        assert isinstance(found, dict)
    else:
        assert found == f"refused: 要素の入れ子が{MAX_DEPTH}段を超えています"


@given(st.integers(min_value=2, max_value=3000), st.sampled_from(["Item", "MedicalTicketInfo"]))
def test_repeated_elements_are_all_kept_in_order(count: int, tag: str) -> None:
    body = "".join(f"<{tag}>{n}</{tag}>" for n in range(count))
    message = xml_to_message(f"<XmlMsg><MessageBody>{body}</MessageBody></XmlMsg>".encode())
    assert message == {"MessageBody": {tag: [str(n) for n in range(count)]}}


def test_one_element_is_a_value_and_a_known_repeated_one_a_list() -> None:
    message = xml_to_message(
        b"<XmlMsg><MessageBody><A> x </A><MedicalTicketInfo><B>1</B></MedicalTicketInfo>"
        b"<C/></MessageBody></XmlMsg>"
    )
    assert message == {"MessageBody": {"A": " x ", "MedicalTicketInfo": [{"B": "1"}], "C": ""}}
