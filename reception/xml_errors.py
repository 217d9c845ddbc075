"""Why a document is not well-formed XML, in Japanese, with the line and column the
parser names (what the folder interface's LINK-E001 says to a developer of clinic
software; the parser's own words are English)."""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException

# expat's error codes (xml.parsers.expat.errors)
_EXPAT_ERRORS = {
    2: "構文の誤りです（XMLではありません）",
    3: "要素がありません（空か、途中で終わっています）",
    4: "XMLに使えない文字があります",
    5: "終わっていない記述があります",
    6: "文字が途中で終わっています",
    7: "開始タグと終了タグが対応していません",
    8: "同じ属性が二度あります",
    9: "ルート要素の後に余分な内容があります",
    11: "定義されていない実体参照があります",
    17: "XML宣言が先頭にありません",
}


def parse_error(exc: Exception) -> str:
    """What is wrong with a document: a parse error with its line and column, DTDs and
    entities refused, or the message of our own checks (Japanese already)."""
    if isinstance(exc, ParseError):
        what = _EXPAT_ERRORS.get(exc.code, f"XMLとして読めません（expat のエラー {exc.code}）")
        line, column = exc.position
        return f"XMLの形式が正しくありません: {what}（{line}行{column + 1}列）"
    if isinstance(exc, DefusedXmlException):
        return "XMLの形式が正しくありません: DTD・実体宣言は使えません"
    return str(exc)
