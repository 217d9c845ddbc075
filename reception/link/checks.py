"""Two refusals a developer of clinic software can act on (see :mod:`reception.link`'s
table of errors): a file that fails only by its **name** (LINK-E002 says what the name
should look like), and a ``CharacterCodeIdentifier`` that contradicts the **bytes** of
the request (LINK-E010).

The name of a request is ``<kind>_<anything>.xml``: the kind exactly as the format
writes it (``OQSsiquc01req``, case and all), then ``_`` (public clinic programs name
their requests ``OQSsiquc01req_<yyyyMMddHHmmss…>.xml``, ``YZKsiquc01req_<…>.xml``:
oqs.md §7), and ``.xml`` in lower case. The real terminal's own programs match the kind
at the start of the name, as written (its answer-encryption setting, ``encrypt.conf``,
is a list of such prefixes); a name that is a kind but for its case, its ``_``, a
character or two, or ``.XML`` is answered with what it should be, never taken for
another kind or guessed at.

The encoding rule (LINK-E010): the bytes are read as the XML declaration says (UTF-8
without one, as XML says), and ``MessageHeader/CharacterCodeIdentifier`` (0 UTF-8,
1 Shift_JIS; the answer is written in it) must agree:

- a declaration naming one encoding and an identifier naming the other is refused,
  whatever the bytes (the answer would come back in an encoding the clinic's reader
  does not expect);
- with no declaration, identifier 1 is refused when the bytes are not ASCII (they are
  read as UTF-8, not as the Shift_JIS the identifier claims);
- a document declared Shift_JIS whose bytes are UTF-8 — non-ASCII, and valid UTF-8
  throughout, which Japanese Shift_JIS text practically never is — is refused (read as
  Shift_JIS it would be answered with the patient's name garbled, or not read at all);
- other bytes that cannot be read in the declared encoding stay LINK-E001.

The identifier is looked for in the bytes (``<CharacterCodeIdentifier>0|1<…>``), so the
rule holds for a document that the contradiction keeps from being parsed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_SHIFT_JIS = {"shift_jis", "shift-jis", "sjis", "windows-31j", "cp932", "ms932", "x-sjis"}
_UTF_8 = {"utf-8", "utf8"}
_IDENTIFIER = re.compile(rb"<CharacterCodeIdentifier>\s*([0-9])\s*</CharacterCodeIdentifier>")
_CODE_NAMES = {"0": "UTF-8", "1": "Shift_JIS"}


def name_problem(name: str, kinds: Collection[str]) -> str | None:
    """What is wrong with the name of a file that is not a request of ``kinds`` by its
    name alone, and what it should look like; None when nothing like a kind is there."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    head = stem.split("_", 1)[0]
    example = "{kind}_<任意の文字>.xml（例: {kind}_20261124_0001.xml）"
    if head in kinds and suffix != "xml":
        return f"ファイル名の拡張子は小文字の「.xml」です（「.{suffix}」）: " + example.format(
            kind=head
        )
    for kind in kinds:
        if stem.startswith(kind) and "_" not in stem:
            return f"ファイル名の「{kind}」の後に「_」が要ります: " + example.format(kind=kind)
    if head in kinds:
        return None  # the name is a request's
    folded = {kind.lower(): kind for kind in kinds}
    if head.lower() in folded:
        kind = folded[head.lower()]
        return f"ファイル名の大文字・小文字が違います（「{head}」→「{kind}」）: " + example.format(
            kind=kind
        )
    close = difflib.get_close_matches(head, list(kinds), n=1, cutoff=0.8)
    if close:
        return (
            f"ファイル名の「{head}」はこの端末の要求の種類にありません。"
            f"「{close[0]}」の誤りではありませんか: " + example.format(kind=close[0])
        )
    return None


def encoding_conflict(data: bytes) -> str | None:
    """Where the request's ``CharacterCodeIdentifier`` contradicts its bytes (the module's
    rule), said for the developer; None when they agree (or it names no encoding).
    Looked at before the document is parsed (its ASCII markup reads the same in both
    encodings): bytes declared Shift_JIS that are UTF-8 may not parse as Shift_JIS."""
    identifier = _IDENTIFIER.search(data)
    code = identifier.group(1).decode() if identifier else None
    if code is None or code not in _CODE_NAMES:
        return None
    said = f"CharacterCodeIdentifier は{code}（{_CODE_NAMES[code]}）"
    found = _DECLARED.match(data)
    declared = found.group(1).decode().lower() if found else None
    if declared is None:
        if code == "1" and not data.isascii():
            return (
                f"文字コードが食い違っています: {said}ですが、XML宣言がなく UTF-8 として"
                '読まれます。Shift_JIS なら XML宣言に encoding="Shift_JIS" を書いてください'
            )
        return None
    family = "1" if declared in _SHIFT_JIS else "0" if declared in _UTF_8 else None
    if found is not None and family is not None and family != code:
        return (
            f"文字コードが食い違っています: {said}ですが、XML宣言は {found.group(1).decode()}"
            " です。どちらかを直してください"
        )
    if family == "1" and not data.isascii() and _utf_8(data):
        return (
            f"文字コードが食い違っています: {said}で XML宣言も Shift_JIS ですが、"
            "中身は UTF-8 で書かれています。Shift_JIS で書くか、宣言と"
            " CharacterCodeIdentifier を UTF-8（0）にしてください"
        )
    return None


def _utf_8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
