"""A desk's terminal process behind a browser's websocket (issue 26 §1, §2).

textual-serve (Textualize's server for Textual apps) runs one app process a websocket
and speaks its web driver's protocol; :class:`DeskProcess` is its ``AppService`` with
what a room needs more: the process started without a shell, ending with the room even
on kill -9 (PR_SET_PDEATHSIG), its exit code known. :class:`DeskSession` is one browser
tab on one desk: the keys and sizes it sends go to the desk's current process; a process
that dies (not a trainee's quit) is started again — the desk resumes from its run's
journal — and the tab does not notice but for a redraw.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from reader.children import die_with_parent
from reader.clock import now_jst

STOP_WAIT = 5.0  # seconds a desk process has to quit before it is killed
RESTARTS_AT_MOST = 3  # within RESTART_WINDOW: then the desk stays down (the trainer sees)
RESTART_WINDOW = 60.0
DOWN_MESSAGE = "このデスクの端末が何度も止まったため、止めました。講師に伝えてください。"
MESSAGE_MAX = 64 * 1024  # a browser's message (keys, a resize): never more (dropped)
SOCKET_MAX = 1024 * 1024  # a websocket message beyond this closes the connection


class DeskProcess(AppService):
    """textual-serve's app service for a desk's process (an argv, not a shell line)."""

    def __init__(
        self,
        argv: list[str],
        *,
        write_bytes: Callable[[bytes], Awaitable[None]],
        write_str: Callable[[str], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        download_manager: DownloadManager,
        environment: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            " ".join(argv),
            write_bytes=write_bytes,
            write_str=write_str,
            close=close,
            download_manager=download_manager,
        )
        self.argv = argv
        self.extra_environment = environment or {}
        self.exited_cleanly = False  # the app said "exit" (the trainee quit)

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        environment = self._build_environment(width=width, height=height)
        environment |= self.extra_environment
        parent = os.getpid()
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            preexec_fn=lambda: die_with_parent(parent),
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def on_meta(self, data: bytes) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(data).get("type") == "exit":
                self.exited_cleanly = True
        await super().on_meta(data)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def finished(self) -> int | None:
        """Wait for the process's output to end, then its exit code."""
        if self._task is not None:
            await self._task
        if self._process is None:
            return None
        return await self._process.wait()

    async def stop_within(self, seconds: float = STOP_WAIT) -> None:
        """Ask the app to quit (its journal closes); kill it if it has not in time."""
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(self.stop(), seconds)
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@dataclass
class DeskStatus:
    """What the trainer's page shows of a desk's process."""

    connected: bool = False
    pid: int | None = None
    since: dt.datetime | None = None
    restarts: int = 0
    last_restart: dt.datetime | None = None
    down: str | None = None  # why the desk stays down (too many crashes)
    recent: list[float] = field(default_factory=list)


class DeskSession:
    """One browser tab on one desk, until the tab closes, the trainee quits, the trainer
    stops the scenario or another tab takes the desk."""

    def __init__(
        self,
        code: str,
        websocket: web.WebSocketResponse,
        argv: list[str],
        status: DeskStatus,
        downloads: DownloadManager,
        *,
        log: Path | None = None,
        size: tuple[int, int] = (80, 24),
    ) -> None:
        self.code = code
        self.websocket = websocket
        self.argv = argv
        self.status = status
        self.downloads = downloads
        self.log = log
        self.size = size
        self.process: DeskProcess | None = None
        self.stopping = False
        self._supervisor: asyncio.Task[None] | None = None
        # a process starts, or the session stops, one at a time: a stop that comes while a
        # process is being started waits for it and stops it (none is left running alone)
        self._lifecycle = asyncio.Lock()
        self._started = asyncio.Event()

    async def begin(self) -> None:
        """The desk's process started (or the session over before it could)."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise())
        started = asyncio.create_task(self._started.wait())
        await asyncio.wait({started, self._supervisor}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()

    async def run(self) -> None:
        """Until the tab or the desk ends: the process supervised, the tab's messages
        passed to whichever process runs."""
        await self.begin()
        try:
            await self._pump()
        finally:
            await self.stop()

    async def stop(self, reason: str | None = None) -> None:
        """The session ends: its process asked to quit (killed if it does not) and gone
        before this returns — the run's journal free for the desk's next process."""
        self.stopping = True
        if reason is not None and not self.websocket.closed:  # told before the app goes
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.websocket.send_str(json.dumps(["log", reason]))
        async with self._lifecycle:
            if self.process is not None:
                await self.process.stop_within()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self.status.connected, self.status.pid = False, None
        if not self.websocket.closed:
            # a close frame's reason: at most 123 bytes of whole UTF-8 characters
            await self.websocket.close(message=(reason or "")[:40].encode())

    async def _start(self) -> DeskProcess | None:
        """A new process for the desk (None: the session is stopping)."""
        environment = {"RECEPTION_ROOM_DESK_LOG": str(self.log)} if self.log else {}
        async with self._lifecycle:
            if self.stopping:
                return None
            process = DeskProcess(
                self.argv,
                write_bytes=self._send_bytes,
                write_str=self._send_str,
                close=self._app_closed,
                download_manager=self.downloads,
                environment=environment,
            )
            self.process = process
            await process.start(*self.size)
            self.status.connected, self.status.pid = True, process.pid
            self.status.since = now_jst()
            self._started.set()
            return process

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping:
            process = await self._start()
            if process is None:
                break
            code = await process.finished()
            if self.stopping or process.exited_cleanly or self.websocket.closed:
                break
            status = self.status
            now = loop.time()
            status.recent = [t for t in status.recent if now - t < RESTART_WINDOW] + [now]
            if len(status.recent) > RESTARTS_AT_MOST:
                status.down = (
                    f"{RESTART_WINDOW:.0f} 秒に {RESTARTS_AT_MOST} 回を超えて止まりました"
                    f"（終了コード {code}）"
                )
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.websocket.send_str(json.dumps(["log", DOWN_MESSAGE]))
                await self.websocket.close(message=b"desk down")
                break
            status.restarts += 1
            status.last_restart = now_jst()
            sys.stderr.write(
                f"reception room: desk {self.code} ended (exit {code}); started again\n"
            )
        self.status.connected = False

    async def _pump(self) -> None:
        async for message in self.websocket:
            if message.type != WSMsgType.TEXT or len(message.data) > MESSAGE_MAX:
                continue
            try:
                envelope = json.loads(message.data)
                kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            except (ValueError, TypeError, IndexError, KeyError, RecursionError):
                continue  # not the client's protocol (or nested past reason): dropped
            await self._forward(kind, data)

    async def _forward(self, kind: object, data: object) -> None:
        process = self.process
        if kind == "ping":
            await self.websocket.send_json(["pong", data])
        elif process is None or process._stdin is None:
            return
        elif kind == "stdin" and isinstance(data, str):
            await process.send_bytes(data.encode("utf-8"))
        elif kind == "resize" and isinstance(data, dict):
            width, height = data.get("width"), data.get("height")
            if isinstance(width, int) and isinstance(height, int):
                self.size = (max(20, min(width, 500)), max(8, min(height, 200)))
                await process.set_terminal_size(*self.size)
        elif kind == "blur":
            await process.blur()
        elif kind == "focus":
            await process.focus()

    async def _send_bytes(self, data: bytes) -> None:
        if not self.websocket.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.websocket.send_bytes(data)

    async def _send_str(self, data: str) -> None:
        if not self.websocket.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.websocket.send_str(data)

    async def _app_closed(self) -> None:
        """The app quit (the trainee closed it): the tab's session ends — unless the
        session is stopping (it closes the tab itself, saying why)."""
        if not self.stopping and not self.websocket.closed:
            await self.websocket.close(message=b"desk closed")


def desk_argv(room: Path, code: str) -> list[str]:
    return [sys.executable, "-m", "reception.room.desk", "--room", str(room), "--desk", code]
