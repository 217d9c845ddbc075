"""The My Number guard: every command to a card passes through here first.

The guard tracks which DF and EF are current on the card (from the commands
it let through and the card's answers) and refuses, *before* transmission,
everything card.md §8 forbids:

- selecting the 券面事項入力補助AP (text AP) by its AID or by any prefix of it
  (the card selects a DF by a prefix of its name), and likewise the 住基AP and
  the 共通カードAP, which the terminal never needs;
- the 券面事項確認AP (card-face AP), except when the guard was built with
  ``face_access`` — and then only its face object, EF 0002;
- reading any number-bearing file and VERIFY of 照合番号A: the guard allows
  VERIFY only against the two JPKI PINs, so the number can never be command
  data;
- short-file-id reads (P1 ≥ 80) while any DF other than the JPKI AP is current;
- GET RESPONSE, except right after our own command was answered ``61xx`` in the same
  transaction, and only as many as a genuine answer needs (:data:`MAX_GET_RESPONSES`,
  :data:`MAX_RESPONSE_BYTES`). GET RESPONSE names no application and no file: it
  hands over whatever answer the card holds for the *last* command it executed. Sent as
  the first command of a transaction, after a ``9000``, or after a refused command, that
  last command may be another program's — a READ BINARY of the 個人番号 in the text AP
  answered ``61xx`` — and the GET RESPONSE would hand us its data.

It is an allow-list, not a deny-list: only the instructions the JPKI client
needs (SELECT, READ BINARY, VERIFY, PSO, GET RESPONSE) with CLA 00/80 pass —
plus, in the face path and only inside the card-face AP, the GET CHALLENGE and
EXTERNAL AUTHENTICATE of the simulated terminal authentication (reader/face.py) — and
while the current DF is unknown (a new connection: another program may have
left the card anywhere) only SELECT by AID (or of the MF, which leaves every
application) passes. Selection by file id or
path of anything but an EF of the current DF is refused, because a DF's file
id could reach the text AP.

The threat it cannot see by itself: **another program on the same reader**. PC/SC lets
any program on the machine connect to the card (in shared mode) and send commands
between two of ours — for example a SELECT of the text AP right after our SELECT of
the JPKI AP, so that our next short-file-id read would run in the text AP and return
the 個人番号. The guard knows only what passed through it. So its view is trusted only
inside an exclusive transaction (``SCardBeginTransaction``), which keeps every other
program's commands out: :class:`~reader.transport.CardChannel` resets the guard to
"unknown" when a transaction begins and when it ends, so a read or VERIFY passes only
when the JPKI AP (or, in the face path, the card-face AP) was selected by its full AID
*in the same transaction*, and a GET RESPONSE only when our own command of the same
transaction left an answer pending; outside a transaction, or on a reader that refuses
one, the channel sends nothing but SELECT by AID. The channel's own GET RESPONSE loop
passes through :meth:`Guard.check` like any other command. Tested through pcscd + vpcd
with a second process selecting the text AP in a loop
(tests/integration/test_shared_reader.py), and by a property over random command
sequences, transaction boundaries and another program that checks every command of ours
ran in an application we selected in the same transaction (tests/unit/test_guard.py,
tests/support/stack.py SharedReader).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from reader.aids import (
    APPLICATION_NAMES,
    CARD_FACE_AID,
    COMMON_AID,
    EF_AUTH_PIN,
    EF_FACE_IMAGE,
    EF_SIGN_PASSWORD,
    JPKI_AID,
    JUKI_AID,
    TEXT_AID,
)
from reader.apdu import (
    INS_GET_RESPONSE,
    INS_PSO,
    INS_READ_BINARY,
    INS_SELECT,
    INS_VERIFY,
    CommandApdu,
    ResponseApdu,
)
from reader.errors import ForbiddenCommand
from reader.sw import StatusWord


class CurrentDf(enum.Enum):
    UNKNOWN = "unknown"  # after connect/reset, or a failed SELECT
    MF = "MF"
    JPKI = "JPKI AP"
    CARD_FACE = "card-face AP"
    OTHER = "other application"


_ALLOWED_CLA = frozenset({0x00, 0x80})
_ALLOWED_INS = frozenset({INS_SELECT, INS_READ_BINARY, INS_VERIFY, INS_PSO, INS_GET_RESPONSE})
_PIN_FILES = frozenset({EF_AUTH_PIN, EF_SIGN_PASSWORD})
# the simulated terminal authentication of the face path (reader/face.py)
_TERMINAL_AUTH_INS = frozenset({0x84, 0x82})


MAX_RESPONSE_BYTES = 65536
"""The most data one command's answer may bring. 65,536 bytes is the largest Le a command
can carry (extended Le ``0000``); the terminal's longest answer is a certificate of
1–2 KB (jpki.MAX_CERT_SIZE: 8 KB)."""

MAX_GET_RESPONSES = 256
"""The most GET RESPONSEs for one command's answer: a genuine card hands over even the
largest possible answer (:data:`MAX_RESPONSE_BYTES`) in 256 of 256 bytes each (``6100``),
and a certificate in at most 8. A card that keeps answering ``61xx`` past this is
faulty or hostile: the channel stops (reader.errors.EndlessResponse)."""


def _success(response: ResponseApdu) -> bool:
    return response.sw == StatusWord.OK or response.sw1 == 0x61


@dataclass
class PendingAnswer:
    """Our last command was answered ``61xx``: the rest waits for GET RESPONSE."""

    fetched: int = 0  # GET RESPONSEs sent for it so far
    received: int = 0  # data bytes of the answer so far

    @property
    def exhausted(self) -> bool:
        return self.fetched >= MAX_GET_RESPONSES or self.received >= MAX_RESPONSE_BYTES


@dataclass
class Guard:
    """Tracks the card's current DF/EF and refuses forbidden commands.

    ``face_access`` is granted only by the simulated face path (design.md §5):
    it allows selecting the card-face AP and reading its EF 0002, nothing else.
    """

    face_access: bool = False
    current_df: CurrentDf = CurrentDf.UNKNOWN
    current_ef: int | None = None
    pending: PendingAnswer | None = None

    def reset(self) -> None:
        """The card was reset, powered off or reconnected — or a transaction began or
        ended: where it is, and whose answer it holds, is unknown."""
        self.current_df = CurrentDf.UNKNOWN
        self.current_ef = None
        self.pending = None

    @property
    def answer_too_long(self) -> bool:
        """Our command's answer is still pending after the most GET RESPONSEs (or bytes)
        a genuine answer needs."""
        return self.pending is not None and self.pending.exhausted

    # -- checking -----------------------------------------------------------

    def check(self, apdu: CommandApdu) -> None:
        """Raise :class:`ForbiddenCommand` unless ``apdu`` may be sent now."""
        if apdu.ins != INS_GET_RESPONSE:
            # whatever the card holds for GET RESPONSE is no longer the answer to our
            # last command once another command is attempted, sent or not
            self.pending = None
        try:
            self._check(apdu)
        except ForbiddenCommand:
            self.pending = None
            raise

    def _check(self, apdu: CommandApdu) -> None:
        if apdu.cla not in _ALLOWED_CLA:
            raise ForbiddenCommand(
                f"CLA {apdu.cla:02X} refused: only CLA 00 and 80 are sent to the card "
                "(no chaining or secure messaging)"
            )
        if apdu.ins in _TERMINAL_AUTH_INS:
            if not self.face_access or self.current_df is not CurrentDf.CARD_FACE:
                raise ForbiddenCommand(
                    f"instruction {apdu.ins:02X} refused: GET CHALLENGE and EXTERNAL "
                    "AUTHENTICATE are sent only in the face path, inside the card-face AP"
                )
            return
        if apdu.ins not in _ALLOWED_INS:
            raise ForbiddenCommand(
                f"instruction {apdu.ins:02X} refused: the terminal only sends SELECT, "
                "READ BINARY, VERIFY, PSO and GET RESPONSE"
            )
        if apdu.ins == INS_SELECT:
            self._check_select(apdu)
        elif apdu.ins == INS_READ_BINARY:
            self._check_read(apdu)
        elif apdu.ins == INS_VERIFY:
            self._check_verify(apdu)
        elif apdu.ins == INS_GET_RESPONSE:
            self._check_get_response(apdu)
        elif apdu.ins == INS_PSO and self.current_df is not CurrentDf.JPKI:
            raise ForbiddenCommand(
                f"PSO refused: the current DF is {self.current_df.value}, not the JPKI AP"
            )

    def _forbidden_aids(self) -> list[bytes]:
        aids = [TEXT_AID, JUKI_AID, COMMON_AID]
        if not self.face_access:
            aids.append(CARD_FACE_AID)
        return aids

    def _check_select(self, apdu: CommandApdu) -> None:
        if apdu.p1 == 0x04:
            name = apdu.data
            for aid in self._forbidden_aids():
                if aid.startswith(name) or name.startswith(aid):
                    what = APPLICATION_NAMES[aid]
                    how = "its AID" if name == aid else f"the AID prefix {name.hex().upper()!r}"
                    if not name:
                        how = "an empty AID (matches every application)"
                    raise ForbiddenCommand(
                        f"SELECT refused: {how} could select the {what}, which the terminal "
                        "must never touch (card.md §8)"
                    )
            return
        if apdu.p1 == 0x02:
            if len(apdu.data) != 2:
                raise ForbiddenCommand(
                    f"SELECT EF refused: a file id has 2 bytes, got {len(apdu.data)}"
                )
            fid = int.from_bytes(apdu.data, "big")
            if self.current_df is CurrentDf.JPKI:
                return
            if self.current_df is CurrentDf.CARD_FACE and fid == EF_FACE_IMAGE:
                return
            raise ForbiddenCommand(
                f"SELECT EF {fid:04X} refused: the current DF is {self.current_df.value}; "
                "files are selected only inside the JPKI AP"
                + (
                    " (and EF 0002 of the card-face AP in the face path)"
                    if self.face_access
                    else ""
                )
            )
        if apdu.p1 == 0x00 and apdu.data in (b"", b"\x3f\x00"):
            return
        raise ForbiddenCommand(
            f"SELECT with P1={apdu.p1:02X} refused: selecting a DF by file id or path could "
            "reach the text AP; select applications by their full AID"
        )

    def _check_read(self, apdu: CommandApdu) -> None:
        if apdu.p1 & 0x80:
            if self.current_df is not CurrentDf.JPKI:
                raise ForbiddenCommand(
                    f"short-file-id READ BINARY (P1={apdu.p1:02X}) refused: the current DF is "
                    f"{self.current_df.value}; SFI reads are allowed only inside the JPKI AP "
                    "(card.md §8)"
                )
            return
        if self.current_df is CurrentDf.JPKI:
            return
        if self.current_df is CurrentDf.CARD_FACE and self.current_ef == EF_FACE_IMAGE:
            return
        raise ForbiddenCommand(
            f"READ BINARY refused: the current DF is {self.current_df.value}"
            + (f", current EF {self.current_ef:04X}" if self.current_ef is not None else "")
            + "; only JPKI AP files (and the card-face AP's face object in the face path) "
            "may be read"
        )

    def _check_get_response(self, apdu: CommandApdu) -> None:
        if self.pending is None:
            raise ForbiddenCommand(
                "GET RESPONSE refused: it is sent only to fetch the rest of our own "
                "command's answer, right after the card answered it 61xx in the same "
                "transaction; otherwise it could hand over the answer to another "
                "program's command (a READ BINARY of the 個人番号)"
            )
        if apdu.p1 or apdu.p2 or apdu.data:
            raise ForbiddenCommand(
                f"GET RESPONSE refused: P1-P2 must be 0000 with no data, got "
                f"{apdu.p1:02X}{apdu.p2:02X}"
                + (f" and {len(apdu.data)} data bytes" if apdu.data else "")
            )
        if self.pending.exhausted:
            raise ForbiddenCommand(
                f"GET RESPONSE refused: the answer already took {self.pending.fetched} GET "
                f"RESPONSEs and {self.pending.received} bytes, more than a genuine card "
                f"needs (at most {MAX_GET_RESPONSES} and {MAX_RESPONSE_BYTES} bytes)"
            )

    def _check_verify(self, apdu: CommandApdu) -> None:
        if self.current_df is not CurrentDf.JPKI:
            raise ForbiddenCommand(
                f"VERIFY refused: the current DF is {self.current_df.value}; outside the JPKI "
                "AP a VERIFY could carry 照合番号A, which is the 個人番号 (card.md §8)"
            )
        if apdu.p1 != 0x00:
            raise ForbiddenCommand(f"VERIFY refused: P1 must be 00, got {apdu.p1:02X}")
        if apdu.p2 == 0x80:
            if self.current_ef in _PIN_FILES:
                return
            current = "none" if self.current_ef is None else f"{self.current_ef:04X}"
            raise ForbiddenCommand(
                f"VERIFY refused: P2=80 verifies the current EF ({current}), which is not one "
                "of the JPKI PINs (0018, 001B)"
            )
        if apdu.p2 & 0x80 and (apdu.p2 & 0x1F) in _PIN_FILES:
            return
        raise ForbiddenCommand(
            f"VERIFY refused: P2={apdu.p2:02X} does not name a JPKI PIN (80, 98 or 9B)"
        )

    # -- tracking -------------------------------------------------------------

    def observe(self, apdu: CommandApdu, response: ResponseApdu) -> None:
        """Update the current DF/EF from a command that was sent and its answer (and
        whether the card holds the rest of that answer for GET RESPONSE)."""
        more = response.sw1 == 0x61
        if apdu.ins == INS_GET_RESPONSE:
            # it continues our answer; it moves no DF and no EF
            if self.pending is not None and more:
                self.pending.fetched += 1
                self.pending.received += len(response.data)
            else:
                self.pending = None
            return
        self.pending = PendingAnswer(received=len(response.data)) if more else None
        ok = _success(response)
        if apdu.ins == INS_SELECT:
            if apdu.p1 == 0x04:
                if not ok:
                    self.reset()
                elif apdu.data == JPKI_AID:
                    self.current_df, self.current_ef = CurrentDf.JPKI, None
                elif apdu.data == CARD_FACE_AID and self.face_access:
                    self.current_df, self.current_ef = CurrentDf.CARD_FACE, None
                else:
                    # A partial AID: the card picked some DF whose name starts with it.
                    self.current_df, self.current_ef = CurrentDf.OTHER, None
            elif apdu.p1 == 0x02:
                self.current_ef = int.from_bytes(apdu.data, "big") if ok else None
            elif apdu.p1 == 0x00:
                if ok:
                    self.current_df, self.current_ef = CurrentDf.MF, None
                else:
                    self.reset()
        elif apdu.ins == INS_READ_BINARY and apdu.p1 & 0x80:
            # A read by short file id makes that EF current (ISO 7816-4).
            self.current_ef = (apdu.p1 & 0x1F) if ok else None
