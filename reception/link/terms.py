"""The folder interface's terms: its limits, the names of requests and answers, its errors
(``LINK-E…``), its events, and how much of a request any text repeats (:func:`excerpt`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reader.safe_text import printable
from reception.errors import InputError
from reception.oqs_errors import OqsError, OqsRateLimited, OqsRefused
from reception.shared_folder import fit_name
from reception.verdict import Refusal

if TYPE_CHECKING:
    from reception.oqs_client import OqsClient

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a 一括照会 of 10,000 patients fits
BULK_MAX = 10_000
STILL_WRITING_SECONDS = 2.0
RETRY_SECONDS = 0.25
SWEEP_SECONDS = 1
BUSY_SWEEP_SECONDS = 10  # a folder never quiet for a second is swept this often all the same
STALE_FACE_TEMP_SECONDS = 600  # face/ is written by check-ins of other processes too
LOCK_NAME = ".reception-link.lock"
JOURNAL_NAME = ".reception-link.journal"  # where earlier versions kept it: never read
ECHO_LIMIT = 160  # characters of a message, an event or a log line about a request
MAX_FILE_IDENTIFIER = 50  # ArbitraryFileIdentifier: what an answer's header may echo
MAX_RECEPTION_NUMBER = 64  # the service's are 16 characters


@dataclass(frozen=True)
class Answer:
    """An answer that is not a qualification result: its body and ``SegmentOfResult``;
    ``header`` shapes the answer's ``MessageHeader`` from the link's usual one (a kind
    whose real header has other elements); ``summary``: what the staff console says."""

    body: dict[str, Any]
    segment: str = "1"
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    summary: str = ""

    def header(self, usual: dict[str, Any]) -> dict[str, Any]:
        return usual if self.shape is None else self.shape(usual)


@dataclass(frozen=True)
class Reply:
    """An answer file as it is written into res/: its bytes and its suffix (``.xml``; a
    PDF's ``.pdf``); ``summary``: what the staff console says of it."""

    data: bytes
    suffix: str = ".xml"
    summary: str = ""


# one kind of request: the client to the service and the parsed request → its answer (a
# QualificationResult, an Answer, a body dict, or a Reply of its own)
Handler = Callable[["OqsClient", dict[str, Any]], Awaitable[Any]]


class LinkError(Exception):
    """A request answered with ``SegmentOfResult`` 9."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LinkFolderError(InputError):
    """The folder cannot be used: a subfolder is a symlink, or another link holds it."""

    title = "連携フォルダを使えません"


@dataclass(frozen=True)
class LinkEvent:
    """One thing the link did, for the staff console and the log. ``name`` and ``detail``
    are safe to show (controls made visible); ``file`` is the file's real name."""

    at: str
    kind: str  # request | answer | error | face
    name: str
    detail: str = ""
    file: str | None = None


def service_error(exc: OqsError) -> LinkError:
    """What the service said, to the clinic software: a refusal names what was wrong in
    the request; an outage (or a hold, 429) says what to do."""
    if isinstance(exc, OqsRateLimited):  # held back (429): what to do, in Japanese
        return LinkError("LINK-E005", exc.staff_message)
    if not isinstance(exc, OqsRefused):
        return LinkError("LINK-E005", exc.staff_message if exc.fallback else str(exc))
    if exc.reason is Refusal.NO_CONSENT:
        return LinkError("LINK-E006", "この医療機関での同意がありません")
    if exc.reason is Refusal.CONSENT_EXPIRED:
        return LinkError("LINK-E006", "同意の有効期限（24時間）が過ぎました")
    if exc.reason is Refusal.NO_SUCH_BULK:
        return LinkError("LINK-E003", "この ReceptionNumber の一括照会はありません")
    if exc.reason in (Refusal.MALFORMED_REQUEST, Refusal.NO_SUCH_QUALIFICATION):
        return LinkError("LINK-E003", f"要求の内容で確認できません: {exc.detail}")
    # anything else: the service's own code, as the clinic software has always read it
    return LinkError("LINK-E005", f"資格確認サービスが要求を拒否しました: {exc.code}")


def excerpt(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text``, or its first ``limit`` characters, ``…`` and its length: how much of a
    request any message, event or log line repeats. Applied where the text leaves the
    link (the answer's ``ErrorMessage``, :meth:`~reception.link.watcher.Link._event`),
    whatever put it there — the request's own values, a parser's message, the service's
    reason."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…（全{len(text)}文字）"


def answer_name(request: str, suffix: str = ".xml") -> str:
    """``OQSsiquc01req_0001.xml`` → ``OQSsiquc01res_0001.xml`` (oqs.md §7), with
    ``suffix`` instead of ``.xml`` (a PDF answer's ``.pdf``, a ZIP's ``.zip``); shortened
    when it would be longer than a file name may be (:func:`fit_name`)."""
    name = request.replace("req", "res", 1) if "req" in request else f"res_{request}"
    if suffix != ".xml" and name.lower().endswith(".xml"):
        name = name[: -len(".xml")] + suffix
    return fit_name(name)


def is_request_name(name: str) -> bool:
    """A visible ``.xml`` name: hidden and temporary names are how writers write whole."""
    return name.lower().endswith(".xml") and not name.startswith((".", "~"))


def shown_name(name: str) -> str:
    """A file name as staff read it: its bytes as UTF-8, else as Shift_JIS (a Windows
    client's name), else with � for what cannot be read; controls made visible."""
    raw = os.fsencode(name)
    for codec in ("utf-8", "cp932"):
        with contextlib.suppress(UnicodeDecodeError):
            return printable(raw.decode(codec))
    return printable(raw.decode("utf-8", errors="replace"))
