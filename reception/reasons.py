"""Why the card route ended in the fallback ladder: one type for the check-in, the
store, the 申立書 and every front end.

The value is a stable code (``no-qualification``) that scripts read in ``--json``
output and that a world's index uses; :attr:`FallbackReason.label` is what staff read.
:meth:`FallbackReason.parse` takes either, so forms and older records in Japanese keep
working.
"""

from __future__ import annotations

import enum


class FallbackReason(enum.StrEnum):
    INVALID = "invalid"
    INVALID_NEWER = "invalid-newer"
    NO_MATCH = "no-qualification"
    MULTIPLE = "multiple"
    CERTIFICATE_LAPSED = "certificate-lapsed"
    NOT_REGISTERED = "not-registered"
    CERTIFICATE_REVOKED = "certificate-revoked"
    OQS_UNAVAILABLE = "service-unavailable"
    NO_METHOD = "no-method"  # PIN and face unusable, and the reader cannot do 目視
    # only a 申立書 says these: the card route never got as far as the service
    READER_FAULT = "reader-fault"
    CARD_DEFECT = "card-defect"
    NO_CARD = "no-card"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str) -> FallbackReason:
        """A code or a Japanese label; ValueError listing the labels otherwise."""
        text = text.strip()
        try:
            return cls(text)
        except ValueError:
            pass
        for reason, label in _LABELS.items():
            if text == label:
                return reason
        raise ValueError(f"選べない理由です（{'、'.join(_LABELS.values())}）")


_LABELS = {
    FallbackReason.INVALID: "無効",
    FallbackReason.INVALID_NEWER: "無効（新しい資格あり）",
    FallbackReason.NO_MATCH: "該当資格なし",
    FallbackReason.MULTIPLE: "複数該当",
    FallbackReason.CERTIFICATE_LAPSED: "電子証明書の期限切れ（猶予期間経過）",
    FallbackReason.NOT_REGISTERED: "保険証利用登録なし",
    FallbackReason.CERTIFICATE_REVOKED: "電子証明書失効",
    FallbackReason.OQS_UNAVAILABLE: "資格確認サービスに接続できない",
    FallbackReason.NO_METHOD: "本人確認の方法なし（目視確認のできない読み取り機）",
    FallbackReason.READER_FAULT: "カードリーダー・端末の障害",
    FallbackReason.CARD_DEFECT: "カードの不具合",
    FallbackReason.NO_CARD: "マイナ保険証・資格確認書の持参なし",
    FallbackReason.OTHER: "その他",
}
