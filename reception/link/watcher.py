"""The link: watches req/ and answers each request as it arrives, through the service
(see :mod:`reception.link`); the folder itself is :class:`HeldFolder`, worked on one
thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from reader.clock import now_jst
from reader.safe_text import printable
from reception.link import answers
from reception.link.checks import name_problem
from reception.link.folder import HeldFolder, Request
from reception.link.kinds import HANDLERS
from reception.link.terms import (
    BUSY_SWEEP_SECONDS,
    RETRY_SECONDS,
    STILL_WRITING_SECONDS,
    SWEEP_SECONDS,
    LinkError,
    LinkEvent,
    LinkFolderError,
    Reply,
    answer_name,
    excerpt,
    is_request_name,
    shown_name,
)
from reception.link.zipped import ZIP_SUFFIX, form_of
from reception.oqs_client import OqsClient
from reception.shared_folder import KIND_LABELS, FilePrivacy, UnsafeFolder

log = logging.getLogger("reception.link")

P = ParamSpec("P")
T = TypeVar("T")


class Link:
    """The folder interface over one directory, answering through the service;
    ``private_dir`` is the terminal's own data directory (``settings.data_dir``), where
    the link keeps its journal (:class:`~reception.link.journal.Journal`);
    ``answer_forms`` (file-name prefix → ``xml``, ``zip`` or ``zip-encrypted``) and
    ``zip_password``: ``link.answer_form`` (:mod:`~reception.link.zipped`).

    Every file operation runs on one thread of its own, in order: the event loop (the
    TUI's reader panel and PIN pad) never waits for a disk, a network share or a parse,
    and descriptors are closed only after the operations queued before."""

    def __init__(
        self,
        folder: Path,
        client: OqsClient,
        *,
        institution_code: str,
        private_dir: Path,
        keep_done: bool = True,
        on_event: Callable[[LinkEvent], None] | None = None,
        privacy: FilePrivacy | None = None,
        answer_forms: Mapping[str, str] | None = None,
        zip_password: bytes | None = None,
        refused: Mapping[str, str] | None = None,
        watch_step_ms: int = 1,
    ) -> None:
        self.folder = folder
        self.watch_step_ms = watch_step_ms  # link.watch_step_ms: how often req/ is looked at
        # kinds this terminal's mode does not answer (資格確認限定型: no records): LINK-E011
        self.refused = dict(refused or {})
        self.req, self.res, self.face = folder / "req", folder / "res", folder / "face"
        self.done = self.req / "done"
        self.client = client
        self.institution_code = institution_code
        self.private_dir = private_dir
        self.keep_done = keep_done
        self.on_event = on_event
        self.privacy = privacy or FilePrivacy()
        self._busy: set[str] = set()
        self._reported: dict[str, set[str]] = {}
        self._undelivered: dict[str, tuple[str, Reply]] = {}  # name → (request key, answer)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="link-io")
        self._closed = False
        self._held = HeldFolder(
            folder,
            private_dir=private_dir,
            keep_done=keep_done,
            privacy=self.privacy,
            answer_forms=answer_forms,  # per prefix: xml, zip or zip-encrypted
            zip_password=zip_password,
        )
        self.started = False  # run() has the folder (a LinkFolderError later: it stopped)

    def prepare(self) -> None:
        """Open and lock the folder; :class:`LinkFolderError` when a subfolder is not a
        real directory or another link holds it. Then no half-written answer of a
        terminal that was killed (:meth:`HeldFolder.prepare`)."""
        self._held.prepare()

    def close(self, *, wait: bool = False) -> None:
        """Release the folder once the file operations queued before are done (``wait``:
        return only then; the event loop never waits for a stalled share)."""
        if not self._closed:
            self._closed = True
            self._io.submit(self._held.close_now)
        self._io.shutdown(wait=wait)

    def _close_now(self) -> None:
        """Release the folder at once (what a process killed leaves to the kernel)."""
        self._held.close_now()

    async def _on_io(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: fn(*args, **kwargs))

    def _event(self, kind: str, name: str, detail: str = "", *, file: str | None = None) -> None:
        event = LinkEvent(
            now_jst().isoformat(timespec="seconds"),
            kind,
            shown_name(name),
            excerpt(printable(detail)),
            file if file is not None else name,
        )
        log.info("link %s %s %s", event.kind, event.name, event.detail)
        if self.on_event is not None:
            self.on_event(event)

    def _report_once(self, name: str, detail: str, *, about: str | None = None) -> bool:
        """A trouble that is not answered (it stays, or recurs): said once, not every
        second, until ``about`` (that name; a subfolder's trouble: "folder") is well.
        Whether it was said now."""
        said = self._reported.setdefault(about or name, set())
        if detail in said:
            return False
        said.add(detail)
        self._event("error", name, detail)
        return True

    # -- the watcher ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Answer what is waiting, then every request as it arrives, until ``stop``."""
        try:
            await self._on_io(self.prepare)
            self.started = True
            notices = self._held.notices
            while notices:  # on the event loop: the TUI's pane is not thread-safe
                name, detail = notices.pop(0)
                self._event("error", name, detail)
            while not stop.is_set():
                if await self.sweep():
                    await self._watch(stop)
                else:  # req/ cannot be used now (said once): look again in a moment
                    await _wait(stop, SWEEP_SECONDS)
        finally:
            for task in self._tasks:
                task.cancel()
            self.close()

    async def _watch(self, stop: asyncio.Event) -> None:
        """Answer what changes in req/ as it changes, and sweep it whenever it has been
        quiet for a second (an event lost, a network share that reports nothing) or
        busy for long; return when req/ must be watched anew (deleted, replaced)."""
        from watchfiles import Change, awatch  # only the link needs the watcher

        swept = time.monotonic()
        try:
            async for changes in awatch(
                self.req,
                stop_event=stop,
                step=self.watch_step_ms,
                debounce=400,
                recursive=False,
                yield_on_timeout=True,
                rust_timeout=SWEEP_SECONDS * 1000,
            ):
                held = self._held.req_identity
                for change, path in sorted(changes, key=lambda c: c[1]):
                    if change is not Change.deleted:
                        await self.handle(os.path.basename(path))
                if self._held.req_identity != held:
                    return  # found replaced while reading (and taken): watched anew
                if not changes or time.monotonic() - swept > BUSY_SWEEP_SECONDS:
                    swept = time.monotonic()
                    await self._on_io(self._held.keep_lock)
                    if not await self.sweep(unless_replaced=True):
                        return  # deleted (made again by the next sweep) or replaced
        except LinkFolderError:
            raise  # another link took the folder: this one stops (said by the caller)
        except Exception as exc:  # e.g. a name that is not UTF-8: the watcher cannot say it
            cause: BaseException = exc
            while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
                cause = cause.exceptions[0]
            # the library's own words (English, a path) go to the log; staff read one
            # sentence, once: every request is still answered by the sweep
            log.warning(
                "link: the watcher stopped (%s: %s); watching again",
                type(cause).__name__,
                excerpt(printable(str(cause))),
            )
            self._report_once(
                "req/",
                "LINK-E007 フォルダの監視をやり直しました（名前の読めないファイルなど）。"
                "要求にはすべて答えます",
                about="watcher",
            )
            await _wait(stop, RETRY_SECONDS)

    async def sweep(self, *, unless_replaced: bool = False) -> bool:
        """Every request waiting in req/ (at start, on every change, when quiet); False
        when req/ cannot be read now (said once) — or, ``unless_replaced``, when it is not
        the directory being watched any more (deleted or replaced)."""
        try:
            names = await self._on_io(self._held.listing, unless_replaced)
        except OSError as exc:  # UnsafeFolder: req/ is a symlink now
            self._report_once("req/", f"LINK-E007 {exc.strerror or exc}")
            return False
        if names is None:
            return False
        self._reported.pop("req/", None)
        for name in sorted(names):
            await self.handle(name)
        return True

    async def handle(self, name: str | Path) -> Path | None:
        """Answer one request of req/ by name; the answer's path, or None (not a request,
        already answered, or still being written — then it is tried again shortly)."""
        name = name.name if isinstance(name, Path) else name
        if not is_request_name(name) or name in self._busy:
            return None
        self._busy.add(name)
        try:
            return await self._handle(name)
        except UnsafeFolder as exc:  # res/ or req/done/ is a symlink now: nothing goes there
            self._report_once(name, f"LINK-E007 {exc.strerror}", about="folder")
            return None
        except Exception as exc:  # the watcher never dies of one request (a full disk …)
            # an OSError's text names the file (a temp file's random name): said once
            # means once per kind of trouble, so without it
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            if self._report_once(name, f"LINK-E007 {type(exc).__name__}: {reason}"):
                # the traceback with it, once: not every second while it recurs
                log.warning("link: %s could not be answered", shown_name(name), exc_info=True)
            return None
        finally:
            self._busy.discard(name)

    async def _handle(self, name: str) -> Path | None:
        request = await self._on_io(self._held.read, name)
        if request is None:
            return None  # moved or removed meanwhile
        if self._held.answered_before(request):
            self._undelivered.pop(name, None)
            await self._on_io(self._held.retire_answered, request)  # answered before a restart
            return None
        kept = self._undelivered.get(name)
        if kept is not None and kept[0] == request.key:
            document = kept[1]  # answered before, not written (a full disk): not asked again
        else:
            answered = await self._compose(request)
            if answered is None:
                return None
            document = answered
        try:
            answer, retired = await self._on_io(self._held.deliver, request, document)
        except BaseException:
            self._undelivered[name] = (request.key, document)
            raise
        self._undelivered.pop(name, None)
        self._reported.pop(name, None)
        self._reported.pop("folder", None)
        if not retired:  # rewritten while it was answered: the new content is answered too
            self._retry_later(name)
        return self.res / answer

    async def _compose(self, request: Request) -> Reply | None:
        """The answer's document; None for a file that is still being written."""
        name = request.name
        message: dict[str, Any] | None = None
        error: LinkError | None = None
        if request.kind != "file":
            label = KIND_LABELS.get(request.kind, request.kind)
            error = LinkError("LINK-E008", f"{label}には答えません（通常のファイルではありません）")
        elif name.split("_", 1)[0] not in HANDLERS or not name.endswith(".xml"):
            problem = name_problem(shown_name(name), HANDLERS)
            said = problem or f"この端末が答える要求ではありません（{shown_name(name)}）"
            error = LinkError("LINK-E002", said)
        elif name.split("_", 1)[0] in self.refused:
            error = LinkError("LINK-E011", self.refused[name.split("_", 1)[0]])
        elif request.too_large:
            error = LinkError("LINK-E004", "4 MiB を超えています")
        elif request.encoding_error is not None:  # also when it cannot be parsed for it
            error = LinkError("LINK-E010", request.encoding_error)
        elif request.parse_error is not None:
            if time.time() - request.mtime < STILL_WRITING_SECONDS:
                self._retry_later(name)  # a writer that has not finished
                return None
            error = LinkError("LINK-E001", request.parse_error)
        else:
            message = request.message
        self._event("request", name)
        return await answers.compose(
            self.client, self.institution_code, name, message, error, self._answer_event(name)
        )

    def _answer_event(self, request: str) -> Callable[[str, str, str], None]:
        """What an answer says on the staff console, naming the file as it is written:
        a ZIP's ``.zip`` where the request's kind is answered so (``link.answer_form``)."""
        if form_of(self._held.answer_forms, request) == "xml":
            return self._event

        def said(kind: str, name: str, detail: str = "") -> None:
            self._event(
                kind, answer_name(request, ZIP_SUFFIX) if kind == "answer" else name, detail
            )

        return said

    def _retry_later(self, name: str) -> None:
        loop = asyncio.get_running_loop()

        def again() -> None:
            task = asyncio.ensure_future(self.handle(name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.call_later(RETRY_SECONDS, again)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
