"""Errors a developer of clinic software can act on (reception.link's table of errors):
a broken document says in Japanese what is wrong and where; a file that fails only by its
name says what the name should look like; a ``CharacterCodeIdentifier`` that contradicts
the bytes is refused (reception.link.checks states the rule). A real `reception link`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mock_oqs.world import World
from tests.support.link import Running, answer, moved_aside, old, persona_request


@pytest.fixture(scope="module")
def erring(link_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("errors")
    running = Running(link_world, tmp / "clinic", tmp)
    with running.serving():
        yield running


def put(link: Running, name: str, data: bytes) -> None:
    """Written whole, a while ago (not a writer still writing)."""
    hidden = link.folder / "req" / f".{name}.part"
    hidden.write_bytes(data)
    old(hidden)
    os.replace(hidden, link.folder / "req" / name)


def refused(link: Running, name: str) -> tuple[str, str]:
    root = answer(link.folder, name)
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert moved_aside(link.folder, name)  # answered once, moved aside
    return root.findtext("MessageHeader/ErrorCode") or "", (
        root.findtext("MessageHeader/ErrorMessage") or ""
    )


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<XmlMsg>\n<MessageHeader></XmlMsg>',
            "XMLの形式が正しくありません: 開始タグと終了タグが対応していません（3行18列）",
        ),
        (b"", "要素がありません（空か、途中で終わっています）（1行1列）"),
        (b"<XmlMsg><a>x</a>\n</XmlMsg>junk", "ルート要素の後に余分な内容があります（2行10列）"),
        (b"<Other/>", "ルート要素が Other です（XmlMsg のはずです）"),
    ],
    ids=["mismatched", "empty", "junk-after", "other-root"],
)
def test_a_broken_document_says_what_and_where_in_japanese(
    erring: Running, data: bytes, says: str, request: pytest.FixtureRequest
) -> None:
    name = f"OQSsiquc01req_broken_{request.node.callspec.id}.xml"
    put(erring, name, data)
    code, message = refused(erring, name)
    assert code == "LINK-E001"
    assert says in message
    assert message.isascii() is False  # the parser's English does not leak
    assert "well-formed" not in message and "line" not in message


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("OQSsiquc01req.xml", "「OQSsiquc01req」の後に「_」が要ります"),
        ("oqssiquc01req_20261124_0001.xml", "大文字・小文字が違います（「oqssiquc01req」→"),
        ("OQSsiquc01req_20261124_0002.XML", "拡張子は小文字の「.xml」です（「.XML」）"),
        ("OQSsiqcu01req_20261124_0003.xml", "「OQSsiquc01req」の誤りではありませんか"),
        ("YZKsiquc1req_20261124_0004.xml", "「YZKsiquc01req」の誤りではありませんか"),
    ],
    ids=["no-underscore", "lower-case", "upper-suffix", "typo", "typo-records"],
)
def test_a_file_that_fails_only_by_its_name_says_what_the_name_should_be(
    erring: Running, name: str, says: str
) -> None:
    put(erring, name, persona_request(erring.world, "adult-kyokai"))
    code, message = refused(erring, name)
    assert code == "LINK-E002"
    assert says in message
    assert "_<任意の文字>.xml（例: " in message  # what it should look like


def declared(encoding: str | None, code: str, body_encoding: str) -> bytes:
    """A request whose XML declaration names ``encoding`` (None: none), with
    CharacterCodeIdentifier ``code``, its text written in ``body_encoding``."""
    request = persona_request_text(code)
    head = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    return (head + request).encode(body_encoding)


def persona_request_text(code: str) -> str:
    # a patient's query with a Japanese 記号 (real ones are), so the bytes are not ASCII
    return (
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>1312345678</MedicalInstitutionCode>"
        f"<CharacterCodeIdentifier>{code}</CharacterCodeIdentifier></MessageHeader>"
        "<MessageBody><QualificationConfirmSearchInfo><InsurerNumber>01130012</InsurerNumber>"
        "<InsuredCardSymbol>記号あ</InsuredCardSymbol>"
        "<InsuredIdentificationNumber>1234</InsuredIdentificationNumber>"
        "<Birthdate>19800101</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    )


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            declared("UTF-8", "1", "utf-8"),
            "CharacterCodeIdentifier は1（Shift_JIS）ですが、XML宣言は UTF-8",
        ),
        (
            declared("Shift_JIS", "0", "cp932"),
            "CharacterCodeIdentifier は0（UTF-8）ですが、XML宣言は Shift_JIS",
        ),
        (declared(None, "1", "utf-8"), "XML宣言がなく UTF-8 として読まれます"),
        (declared("Shift_JIS", "1", "utf-8"), "中身は UTF-8 で書かれています"),
    ],
    ids=[
        "utf8-declared-sjis-code",
        "sjis-declared-utf8-code",
        "undeclared-sjis-code",
        "sjis-declared-utf8-bytes",
    ],
)
def test_an_identifier_that_contradicts_the_bytes_is_refused(
    erring: Running, data: bytes, says: str, request: pytest.FixtureRequest
) -> None:
    name = f"OQSsiquc01req_enc_{request.node.callspec.id}.xml"
    put(erring, name, data)
    code, message = refused(erring, name)
    assert code == "LINK-E010"
    assert says in message


def test_an_identifier_that_agrees_with_the_bytes_is_answered(erring: Running) -> None:
    """The rule refuses no request that is what it says (each of the real forms)."""
    for number, (encoding, code, body) in enumerate(
        [("Shift_JIS", "1", "cp932"), ("UTF-8", "0", "utf-8"), (None, "0", "utf-8")]
    ):
        name = f"OQSsiquc01req_agree_{number:04d}.xml"
        put(erring, name, declared(encoding, code, body))
        root = answer(erring.folder, name)
        assert root.findtext("MessageHeader/ErrorCode") != "LINK-E010"
        assert root.findtext("MessageHeader/CharacterCodeIdentifier") == code
