"""What can go wrong in an exchange with the qualification service, as typed errors, each
with a title for staff (:attr:`OqsError.staff_message`).

A refusal (:class:`OqsRefused`) carries why as a :class:`~reception.verdict.Refusal`,
which the OQS client reads from the service's code (:func:`reception.oqs_client.refusal_of`);
the code itself stays on the error for the developer view and the logs.

When the service cannot be reached, nothing re-checks the reception by itself, and staff
are not told it will: a confirmation by card needs the patient there — a fresh nonce from
the service signed by the card after the PIN or face (design.md §6) — and the reception
holds no numbers to query by. What MHLW tells clinics to do instead, and what staff read
(:attr:`OqsError.staff_message`): confirm at once by another rung (the card with the
資格情報のお知らせ or the マイナポータル 資格情報 screen, the 資格確認書, the 申立書 — oqs.md
§6) or, the service back, place the card again. MHLW's own procedure for a failure of
the line or the system is to note the card face's 氏名・生年月日・性別・住所 and, once
it is over, confirm through the 「緊急時医療情報・資格確認機能」 (資格情報照会（システム障害時）,
started by calling the オンライン資格確認等コールセンター): 保発0710第1号 (2023-07-10,
別添2 「システム障害時モード」, https://wic-net.com/material/document/10145/8); the
オンライン資格確認等システム運用マニュアル 第5章 (quoted at
https://kyotoihou.t-reader.jp/?p=14265); 支払基金's notice on the 2025-02-13 line
failure (https://iryohokenjyoho.service-now.com/csm?id=kb_article_view&sys_kb_id=d00d25d42bd46654bc03f116ce91bf2f).
The simulator has no such function: the 申立書 queue is what it re-checks by number when
the service answers again (reception/reverify.py).
"""

from __future__ import annotations

import math

from reception.errors import ReceptionError
from reception.verdict import Refusal


class OqsError(ReceptionError):
    """A failed exchange with the service; ``fallback`` says the card route cannot go on."""

    title = "資格確認サービスのエラー"
    fallback = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def staff_message(self) -> str:
        """What staff read (Japanese only): what happened and what to do. The detail for
        developers (HTTP status, mock codes) stays in the exception, the logs and the
        developer view."""
        if self.fallback:
            return f"{self.title}。{OUTAGE_ADVICE}"
        return f"{self.title}。詳しくは開発者タブをご覧ください"


OUTAGE_ADVICE = (
    "この受付は自動では再確認されません。サービスが戻ったら、もう一度カードで確認できます。"
    "急ぐときは、資格情報のお知らせ・マイナポータル、資格確認書や申立書などで確認してください"
)
"""What staff do when the service cannot answer (the module's docstring: why, and MHLW's
procedure)."""


class OqsUnavailable(OqsError):
    title = "資格確認サービスに接続できません"


class OqsCircuitOpen(OqsUnavailable):
    title = "資格確認サービス停止中（しばらく接続を控えています）"


class OqsTimeout(OqsError):
    title = "資格確認サービスが応答しません"


class OqsServerError(OqsError):
    title = "資格確認サービスの障害"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class OqsMalformed(OqsError):
    title = "資格確認サービスの応答が不正です"


class OqsRefused(OqsError):
    """The service understood and said no (4xx with its own code)."""

    title = "資格確認サービスが要求を拒否しました"
    fallback = False

    def __init__(
        self, status: int, code: str, message: str, reason: Refusal = Refusal.UNKNOWN
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code  # the service's own code: shown to developers and logged
        self.detail = message  # the service's own words
        self.reason = reason  # what the terminal decides on


class OqsRateLimited(OqsRefused):
    """429: the service holds this facility back for a while (``retry_after`` seconds, if
    waiting helps). The query cannot go on now, as when the service is down: a new
    reception stays pending, re-verification stops, and the client does not ask that kind
    of request again until the time has passed."""

    title = "資格確認サービスの照会回数が上限に達しました"
    fallback = True

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        retry_after: float | None,
        reason: Refusal = Refusal.UNKNOWN,
    ) -> None:
        super().__init__(status, code, message, reason)
        self.retry_after = retry_after

    @property
    def holds_back(self) -> bool:
        """Whether every request of its kind waits (the facility's rate), or only this
        patient's numbers were refused (too many birth dates tried with them)."""
        return self.reason is not Refusal.TOO_MANY_BIRTH_DATES

    @property
    def staff_message(self) -> str:
        if self.reason is Refusal.TOO_MANY_BIRTH_DATES:
            return (
                "この番号では多くの異なる生年月日で照会されたため、今日は受け付けられません。"
                "資格確認書の番号と生年月日をもう一度確かめてください（申立書での受付もできます）"
            )
        when = (
            f"約{math.ceil(self.retry_after)}秒後に"
            if self.retry_after is not None
            else "時間をおいて"
        )
        if self.reason is Refusal.TOO_MANY_BULK_JOBS:
            return f"一括照会が多すぎるため受け付けられませんでした。{when}もう一度送ってください"
        if self.reason is Refusal.TOO_MANY_NONCES:
            return f"資格確認の要求が多すぎるため受け付けられませんでした。{when}やり直してください"
        if self.retry_after is None:  # a 一括照会 over the per-job cap: waiting won't help
            return "一括照会の件数が上限を超えています。件数を減らして送り直してください"
        return (
            "この医療機関からの番号による照会が上限に達しました。"
            f"{when}もう一度照会してください（資格確認書や申立書での確認もできます）"
        )
