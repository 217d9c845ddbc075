"""reception.link.checks sees bytes and names from outside: it answers, never raises."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reception.link.checks import encoding_conflict, name_problem
from reception.link.kinds import HANDLERS

PREFIX = st.sampled_from([b"", b'<?xml version="1.0" encoding="Shift_JIS"?>', b"<?xml "])
IDENTIFIER = st.sampled_from([b"", b"<CharacterCodeIdentifier>1</CharacterCodeIdentifier>"])


@given(PREFIX, IDENTIFIER, st.binary(max_size=200))
def test_any_bytes_get_a_verdict(prefix: bytes, identifier: bytes, rest: bytes) -> None:
    found = encoding_conflict(prefix + identifier + rest)
    assert found is None or found.startswith("文字コードが食い違っています")


@given(st.text(max_size=80))
def test_any_name_gets_a_verdict(name: str) -> None:
    found = name_problem(name, HANDLERS)
    assert found is None or "_<任意の文字>.xml" in found


def test_a_request_that_is_what_it_says_is_not_refused() -> None:
    sjis = '<?xml version="1.0" encoding="Shift_JIS"?><XmlMsg><CharacterCodeIdentifier>1'
    assert (
        encoding_conflict((sjis + "</CharacterCodeIdentifier>記号</XmlMsg>").encode("cp932"))
        is None
    )
    assert name_problem("ABCxxxxx01req_0001.xml", HANDLERS) is None
    assert name_problem("OQSsiquc01req_20261124_0001.xml", HANDLERS) is None
