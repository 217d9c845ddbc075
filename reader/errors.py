"""Typed errors of the card layer.

Every error carries a short human ``title`` that a UI can show as is, and a
message with the detail. No error ever carries PIN digits: messages are built
from status words, counts and file identifiers only.
"""

from __future__ import annotations

from reader.sw import StatusWord


class ReaderError(Exception):
    """Base of every error raised by :mod:`reader`."""

    title = "カード読み取りエラー"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- malformed bytes ---------------------------------------------------------


class MalformedApdu(ReaderError):
    """A command APDU could not be parsed or built (bad length fields, bad hex …)."""

    title = "不正なコマンドAPDU"


class MalformedResponse(ReaderError):
    """A response from the card is shorter than a status word or otherwise unusable."""

    title = "カードの応答が不正です"


class EndlessResponse(MalformedResponse):
    """The card kept answering ``61xx`` ("more data") past any genuine answer's length:
    the channel stops fetching (reader/guard.py, MAX_GET_RESPONSES)."""

    title = "カードの応答が終わりません"


class MalformedCardData(ReaderError):
    """A file read from the card does not hold what it should (bad DER header, label …)."""

    title = "カードのデータが不正です"


# --- the guard -----------------------------------------------------------------


class ForbiddenCommand(ReaderError):
    """The My Number guard refused a command before it reached the card (card.md §8)."""

    title = "禁止されたコマンド"


# --- status words --------------------------------------------------------------


class CardStatusError(ReaderError):
    """The card answered with a status word other than success."""

    def __init__(self, sw: int, message: str | None = None) -> None:
        self.sw = sw
        super().__init__(message or f"the card answered {sw:04X}")


class PinIncorrect(CardStatusError):
    """Wrong PIN; ``tries_left`` more attempts before the PIN blocks."""

    title = "暗証番号が違います"

    def __init__(self, sw: int, tries_left: int) -> None:
        self.tries_left = tries_left
        if tries_left == 0:
            detail = "wrong PIN: no tries left, the PIN is now blocked"
        else:
            detail = f"wrong PIN: {tries_left} {'try' if tries_left == 1 else 'tries'} left"
        super().__init__(sw, detail)


class PinBlocked(CardStatusError):
    """The PIN counter is at zero (6984); only the municipal office can unlock it."""

    title = "暗証番号がロックされています"

    def __init__(self, sw: int = StatusWord.PIN_BLOCKED, message: str | None = None) -> None:
        super().__init__(
            sw,
            message
            or "the PIN is blocked (3 wrong attempts); the holder must have it reset at the "
            "municipal office. The card still serves as 保険証 by face recognition or "
            "目視確認",
        )


class PinNotSet(CardStatusError):
    """No PIN is set on this card (顔認証マイナンバーカード, or a phone that checks on its own)."""

    title = "暗証番号が設定されていません"

    def __init__(self, sw: int = StatusWord.REFERENCE_NOT_FOUND) -> None:
        super().__init__(sw, "no PIN is set on this card: use face recognition or 目視確認")


class PinRequired(ReaderError):
    """The token needs the PIN on the reader and the caller gave none."""

    title = "暗証番号が必要です"


class SecurityStatusNotSatisfied(CardStatusError):
    """6982: the operation needs a verified PIN (or is not allowed at all)."""

    title = "セキュリティ条件を満たしていません"

    def __init__(self, sw: int = StatusWord.SECURITY_NOT_SATISFIED) -> None:
        super().__init__(sw, "security status not satisfied (6982): verify the PIN first")


class FileNotFound(CardStatusError):
    """6A82: application or file not found."""

    title = "ファイルが見つかりません"

    def __init__(self, sw: int = StatusWord.NOT_FOUND, what: str = "application or file") -> None:
        super().__init__(sw, f"{what} not found on the card (6A82)")


class WrongParameters(CardStatusError):
    title = "パラメータ誤り"

    def __init__(self, sw: int = StatusWord.WRONG_P1P2) -> None:
        super().__init__(sw, "wrong P1/P2 (6A86)")


class OffsetBeyondFile(CardStatusError):
    title = "ファイル範囲外の読み取り"

    def __init__(self, sw: int = StatusWord.OFFSET_BEYOND_FILE) -> None:
        super().__init__(sw, "read offset beyond the end of the file (6B00)")


class WrongLength(CardStatusError):
    title = "長さ誤り"

    def __init__(self, sw: int = StatusWord.WRONG_LENGTH) -> None:
        super().__init__(sw, "wrong length (6700)")


class NoCurrentEf(CardStatusError):
    title = "ファイルが選択されていません"

    def __init__(self, sw: int = StatusWord.NO_CURRENT_EF) -> None:
        super().__init__(sw, "command not allowed: no current EF (6986)")


class InstructionNotSupported(CardStatusError):
    title = "未対応の命令"

    def __init__(self, sw: int = StatusWord.INS_NOT_SUPPORTED) -> None:
        super().__init__(sw, "instruction not supported (6D00)")


class ClassNotSupported(CardStatusError):
    title = "未対応のクラス"

    def __init__(self, sw: int = StatusWord.CLA_NOT_SUPPORTED) -> None:
        super().__init__(sw, "class not supported (6E00)")


# --- the card and the reader -------------------------------------------------------


class NotAMyNumberCard(ReaderError):
    """The card in the reader has no JPKI application."""

    title = "マイナンバーカードではありません"


class CardUnresponsive(ReaderError):
    """The card (or the reader holding it) did not answer within the deadline — one
    exchange, one command's whole answer, one card operation, or a connection being
    opened (reader/transport.py, DeadlineTransport; reader/pcsc.py, PcscTransport). A card
    fault, not a lost reader: another card in the same reader works again."""

    title = "カードが応答しません"


class CardRemoved(ReaderError):
    """The card left the reader (or was reset by another program) during an operation."""

    title = "カードが取り外されました"


class NoCard(ReaderError):
    """No card is in the reader."""

    title = "カードが置かれていません"


class ReaderUnavailable(ReaderError):
    """The reader is gone, unknown, or the PC/SC service is not running."""

    title = "カードリーダーを使用できません"


class TransportError(ReaderError):
    """Any other failure of the transport (PC/SC error, socket error)."""

    title = "通信エラー"


class TransactionRefused(TransportError):
    """The reader or its driver refused an exclusive transaction: without one, another
    program could move the card between two of our commands, so only SELECT by AID is
    sent (reader/transport.py, CardChannel)."""

    title = "カードを排他的に使用できません"


class CardInUse(ReaderUnavailable):
    """Another connection holds the card (exclusive connection refused): another
    program's — or one stuck in an exchange with a card that went silent, which pcscd
    keeps until the card leaves (its program may be gone); nothing tells the two apart."""

    title = "カードは別の接続が使用中です"


class SlotTaken(ReaderError):
    """A virtual card could not go into a vsmartcard-vpcd slot: the slot already holds a
    card (reader/virtual/vpcd.py). vpcd serves one card a slot and keeps a second one
    waiting, unseen, until the first leaves — so the card is refused instead of being
    announced as inserted while the reader keeps the other one.

    ``reader`` is pcscd's name of the slot when known, ``port`` vpcd's port;
    :attr:`staff_message` says the same in Japanese for a screen."""

    title = "仮想リーダーには別のカードが入っています"

    def __init__(self, message: str, *, port: int, reader: str | None = None) -> None:
        super().__init__(message)
        self.port = port
        self.reader = reader

    @property
    def staff_message(self) -> str:
        where = (
            f"「{self.reader}」（vpcd ポート {self.port}）"
            if self.reader
            else (f"vpcd ポート {self.port} の仮想リーダー")
        )
        return (
            f"{where}には別のカードが入っています。読み取り機にはカードを1枚しか置けません。"
            "そのカードを取り出してから（vcard remove か、そのカードを入れたプログラムを"
            "止める）、もう一度置いてください"
        )


class WorldError(ReaderError, ValueError):
    """A simulated world that cannot be used: missing, incomplete, not a world, no such
    persona (reader/virtual/world.py; mock_oqs and reception.sim raise it too)."""

    title = "ワールドを読めません"
