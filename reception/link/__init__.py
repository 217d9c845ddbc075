"""The folder interface of the 資格確認端末 (oqs.md §7): what a レセコン / 電子カルテ talks to.

``DIR/req``: the clinic software drops a request; the answer appears in ``DIR/res`` with
the same name, ``req`` replaced by ``res``; ``DIR/face``: every card confirmation at the
reader, as it completes. Every answer is written under a hidden name and renamed, so a
watcher on ``res/`` never reads half a file. A request answered is moved to
``req/done/`` (or removed): a restart does not answer it again. Where ``link.answer_form``
says so for the request's prefix, the answer is a ZIP of it, ``….zip``, encrypted or not
(:mod:`~reception.link.zipped`). Clinic software takes what it has read out of res/ and
face/ (into its own ``trash/``) the moment it is there: the link minds nothing of it — no
error, no retry — never writes a file again once written, and never touches ``trash/``.

Requests (the element names of oqs.md §7):

- ``OQSsiquc01req_*``: one query by 保険者番号・記号・番号・枝番 and birth date;
- ``OQSsiimm01req_*`` (one), ``OQSmuimm01req_*`` / ``OQSmuimm02req_*`` (many, two phases):
  register the clinic's 照会番号 for a patient, named in
  ``MessageBody/ReferenceNumberRegistrationInfo`` by the numbers alone, as public clinic
  programs write it (:mod:`reception.link.kinds.reference`);
- ``YZKsiquc01req_*`` / ``TKKsiquc01req_*``: 薬剤情報 / 特定健診情報 of a consenting patient.

YZK / TKK name the patient in ``MessageHeader`` (numbers, no birth date) and are answered
as a public clinic program reads them — XML, or a PDF for ``FileCategory`` 1 and 3
(:mod:`reception.link.kinds.records`); they carry the same records the staff console's
診療情報 tab shows. Each kind's module says what its shapes rest on
(:mod:`reception.link.kinds`).

A request that cannot be answered gets an answer all the same, ``SegmentOfResult`` 9 with
a mock error code (there is no public list of the real ones; oqs.md §3):

=========  ==============================================================================
LINK-E001  not a well-formed XML document (the message says what, in Japanese, with the
           line and column: 「XMLの形式が正しくありません: 開始タグと終了タグが対応して
           いません（2行14列）」), not in the encoding it declares (the byte), not
           ``XmlMsg``, or nested deeper than 64 elements
LINK-E002  the file name is not a request this terminal answers; a name that fails only
           as a name — a kind without its ``_`` (``OQSsiquc01req.xml``), in other case
           (``oqssiquc01req_…``), misspelt by a character or two, or ``.XML`` — is told
           what it should look like: ``<kind>_<anything>.xml``
           (:mod:`~reception.link.checks`)
LINK-E003  a required element is missing or malformed (the message names it); also an
           ``ArbitraryFileIdentifier`` longer than 50 characters (every answer echoes it)
LINK-E004  the file is larger than 4 MiB
LINK-E005  the service could not answer (unreachable, or it refused the request)
LINK-E006  no consent for these records at this clinic (24 h after the card confirmation)
LINK-E007  (log and staff console only, once) the request could not be read or its answer
           could not be written — e.g. a full disk; the request stays in req/ and the
           answer (kept, the service is not asked again) is written when the folder is
           next swept
LINK-E008  not a regular file: a symlink (never followed), a FIFO, a directory or a device
           named like a request; the entry itself is moved to req/done/ (a symlink or FIFO
           is removed when answered requests are)
LINK-E009  (log and staff console only, once) a ``.reception-link.journal`` in the shared
           folder (an earlier version's, or written there by someone else) was removed
           unread: the link's record is in the terminal's data directory, and every
           request the file named is answered
LINK-E010  ``CharacterCodeIdentifier`` contradicts the bytes: the XML declaration names
           the other encoding, or there is none and identifier 1 (Shift_JIS) comes with
           non-ASCII bytes (read as UTF-8), or the bytes declared Shift_JIS are UTF-8
           (:mod:`~reception.link.checks` states the rule)
LINK-E011  a kind the terminal's ``mode`` does not answer: YZK / TKK under ``limited``
           (資格確認限定型, qualification only: reception/home_visit/mode.py)
=========  ==============================================================================

What the link repeats of a request is bounded, by one function where text leaves it
(:func:`excerpt`): an answer's ``ErrorMessage``, an event on the staff console and its log
line, a line of the 連携 pane's view of an answer hold at most ``ECHO_LIMIT`` (160)
characters, then ``…`` and the full length — a 3 MB ``Birthdate`` was written back 3 MB
into the answer and twice into the log. An answer's header echoes an
``ArbitraryFileIdentifier`` of at most 50 characters (the format's limit).

A file that is not yet well-formed XML and was written in the last two seconds is taken
for one still being written (a writer that has not finished): it is tried again once it
has not changed for a moment, and only then answered as broken.

**The folder is hostile** (design.md §6.8): other machines and programs write it. The
link opens ``DIR`` and then ``req/``, ``res/``, ``face/`` and ``req/done/`` once, each
``O_DIRECTORY | O_NOFOLLOW``, and works relative to those descriptors (``dir_fd=``);
before each use it checks that the name still leads to the directory it holds — a
directory deleted is made again (the link keeps watching), one replaced by another real
directory is taken, one replaced by a symlink is refused (logged once; at start the link
does not start). Between that check and the use a swap cannot redirect anything: the
descriptor still names the directory that was checked. Requests are read only when they
are regular files, opened ``O_NOFOLLOW | O_NONBLOCK``; answers are written through an
exclusive temp file (:mod:`reception.shared_folder`), 0600 (0640 with ``link.group``).
Any file name is answered: names that are not UTF-8 (a Shift_JIS name from a Windows
client) keep their bytes, and an answer name longer than a file name may be (255 bytes)
is shortened by :func:`reception.shared_folder.fit_name` (its start, ``~``, 8 hex digits
of its SHA-256, ``.xml``). Names are shown and logged with controls made visible.

**Once and only once.** One link per folder: it holds ``flock`` on the folder's own
directory — which whoever writes inside the folder cannot delete or replace — and on
``DIR/.reception-link.lock`` (which says who holds it, and is made again if deleted); a
second link refuses to start and names the holder
(:meth:`~reception.link.folder.HeldFolder._lock` says what NFS and SMB make of these
locks). Before an answer is renamed into place, the request it answers —
name, size, modification time and SHA-256 of its content — is recorded in a journal with
the name of the answer's temp file; the record is dropped once the request is moved out
of req/. A link that finds a request in that record after a restart (``kill -9`` between
the two steps) only moves it, unless the temp file is still there (then the answer never
appeared, and it is answered). The journal is kept in the terminal's private data
directory (``settings.data_dir``), never in the shared folder, whose writers could
otherwise make a request look answered (:class:`~reception.link.journal.Journal`).
Nothing is decided from modification times, which copied files, reused sequence numbers
and 2-second FAT/SMB clocks make unreliable: a request whose name was answered before is
answered again. A request rewritten while it was being answered — renamed over, or rewritten in
place with the same size and time (a 2-second clock) — is not moved away: its content is
compared with what was answered before it is moved, and the new content is answered too.

The package by role: :mod:`~reception.link.watcher` (the :class:`Link`: watching req/,
answering each request), :mod:`~reception.link.folder` (the folder held open and locked,
reading requests, writing answers, moving requests), :mod:`~reception.link.journal`,
:mod:`~reception.link.request` (what a request names), :mod:`~reception.link.answers`
(answering per kind), :mod:`~reception.link.describe` (an answer as staff read it) and
:mod:`~reception.link.terms` (limits, names, errors, events).
"""

from reception.link.describe import describe_answer
from reception.link.terms import (
    ECHO_LIMIT,
    MAX_REQUEST_BYTES,
    Answer,
    LinkError,
    LinkEvent,
    LinkFolderError,
    answer_name,
    excerpt,
    is_request_name,
    shown_name,
)
from reception.link.watcher import Link

__all__ = [
    "ECHO_LIMIT",
    "MAX_REQUEST_BYTES",
    "Answer",
    "Link",
    "LinkError",
    "LinkEvent",
    "LinkFolderError",
    "answer_name",
    "describe_answer",
    "excerpt",
    "is_request_name",
    "shown_name",
]
