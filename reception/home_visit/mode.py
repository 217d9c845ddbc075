"""The terminal's mode: ``full`` (オンライン資格確認 as a clinic runs it) or ``limited``
(資格確認限定型: qualification only — no consents asked or sent, no shared records).

資格確認限定型 (since 2024-04) is for 柔道整復師・あん摩マッサージ指圧師・はり師・きゅう師
の施術所 (受領委任), 助産所, 健診実施機関 and facilities not obliged to run OQS; it
obtains the qualification only: 特定健診情報・薬剤情報・診療情報 cannot be viewed (医療機関等
向け総合ポータル FAQ 「オンライン資格確認（資格確認限定型）（マイナ資格確認アプリ）に関する
よくある質問」, iryohokenjyoho.service-now.com kb 06de843f47655258450493c4116d435d, read
2026-12-07; oqs.md §8). The setting is ``mode`` (RECEPTION_MODE).
"""

from __future__ import annotations

import enum

from reception.errors import InputError


class Mode(enum.StrEnum):
    FULL = "full"
    LIMITED = "limited"

    @property
    def label(self) -> str:
        return "資格確認限定型" if self is Mode.LIMITED else "オンライン資格確認"

    @property
    def label_en(self) -> str:
        return "qualification only" if self is Mode.LIMITED else "full"


class LimitedMode(InputError):
    """What 資格確認限定型 does not do, asked of a terminal in that mode."""

    title = "資格確認限定型"


RECORDS_REFUSED = (
    "資格確認限定型（mode=limited）の施設では薬剤情報・診療情報・特定健診情報を閲覧できません"
    "（資格情報のみです）"
)
CONSENTS_REFUSED = (
    "資格確認限定型（mode=limited）では同意を取りません（資格情報のみです）: --consent を"
    "外してください"
)


def refuse_records(mode: Mode) -> None:
    """LimitedMode where the records may not be viewed."""
    if mode is Mode.LIMITED:
        raise LimitedMode(RECORDS_REFUSED)


RECORDS_KINDS = ("YZKsiquc01req", "TKKsiquc01req")  # the link's 薬剤情報 and 特定健診情報


def records_refusal(mode: Mode) -> str | None:
    """Why this mode shows no records (None: it does)."""
    return RECORDS_REFUSED if mode is Mode.LIMITED else None


def refused_kinds(mode: Mode) -> dict[str, str]:
    """The link's kinds this mode does not answer (prefix → why): LINK-E011."""
    return dict.fromkeys(RECORDS_KINDS, RECORDS_REFUSED) if mode is Mode.LIMITED else {}


def refuse_consents(mode: Mode, asked: bool) -> None:
    """LimitedMode where consents were asked of a terminal in 資格確認限定型."""
    if mode is Mode.LIMITED and asked:
        raise LimitedMode(CONSENTS_REFUSED)
