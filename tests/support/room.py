"""A training room for tests and the room's benchmark: ``reception room`` started as a
program on a free port in a folder of its own (:class:`RoomProcess`), and a headless
desk client (:class:`DeskClient`) that speaks the browser's websocket protocol and reads
the screen through a VT emulator (pyte) — what a trainee's browser would show."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pyte

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RoomProcess:
    """``reception room`` as a trainer starts it; :meth:`stop` sends SIGTERM (as Ctrl+C)."""

    def __init__(
        self,
        folder: Path,
        *,
        desks: int = 2,
        scenario: str | None = "kihon",
        host: str = "127.0.0.1",
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.host = host
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "reception.cli", "room", "--desks", str(desks)]
        args += ["--folder", str(folder), "--port", str(self.port), "--host", host]
        args += ["--scenario", scenario] if scenario else []
        self.log = open(folder.parent / f"{folder.name}-room.log", "wb")  # noqa: SIM115
        environment = os.environ | {"RECEPTION_DATA_DIR": str(folder.parent / "data")}
        self.proc = subprocess.Popen(
            [*args, *extra],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=environment | (env or {}),
            cwd=ROOT,
        )

    def wait_ready(self, timeout: float = 90.0) -> RoomProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reception room exited {self.proc.returncode}: {self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"reception room did not answer in {timeout:g} s: {self.output()}")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.folder.parent / f"{self.folder.name}-room.log").read_text(errors="replace")

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "room.json").read_text("utf-8"))
        return data

    def desk_codes(self) -> list[str]:
        return [d["code"] for d in self.state()["desks"]]

    def name_desk(self, code: str, trainee: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/desk/{code}/name", data={"trainee": trainee}, follow_redirects=False
        )

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@contextlib.contextmanager
def running_room(folder: Path, **options: Any) -> Iterator[RoomProcess]:
    room = RoomProcess(folder, **options)
    try:
        yield room.wait_ready()
    finally:
        room.stop()


class DeskClient:
    """One desk's websocket as textual-serve's browser client speaks it: keys go as
    ``["stdin", text]``, the screen is what the bytes back draw (pyte)."""

    def __init__(self, url: str, code: str, *, width: int = 120, height: int = 40) -> None:
        self.url, self.code = url, code
        self.width, self.height = width, height
        self.screen = pyte.Screen(width, height)
        self.stream = pyte.ByteStream(self.screen)
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.last_output = 0.0  # loop time the newest bytes arrived (before pyte drew them)
        self.closed: str | None = None  # why the websocket closed, if it did
        self._change: asyncio.Future[None] | None = None  # resolved by the next bytes
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, cookies: dict[str, str] | None = None) -> DeskClient:
        self.session = aiohttp.ClientSession(cookies=cookies)
        ws_url = self.url.replace("http", "ws", 1)
        self.ws = await self.session.ws_connect(
            f"{ws_url}/ws/{self.code}?width={self.width}&height={self.height}"
        )
        await self.ws.send_str(json.dumps(["resize", {"width": self.width, "height": self.height}]))
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        loop = asyncio.get_running_loop()
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.last_output = loop.time()  # the screen's answer came: not pyte's time
                self.feed(message.data)
                self._changed()
        self.closed = str(self.ws.close_code)
        self._changed()

    def _next_change(self) -> asyncio.Future[None]:
        if self._change is None:
            self._change = asyncio.get_running_loop().create_future()
        return self._change

    def _changed(self) -> None:
        change, self._change = self._change, None
        if change is not None and not change.done():
            change.set_result(None)

    def feed(self, data: bytes) -> None:
        """The screen draws ``data`` (pyte; a benchmark may keep a lighter screen)."""
        self.stream.feed(data)

    def text(self) -> str:
        # the cells joined (a wide character's stub is ""): pyte's own ``display`` fails
        # on a stub left behind when a redraw overwrote only the wide character
        columns = range(self.screen.columns)
        rows = (self.screen.buffer[y] for y in range(self.screen.lines))
        return "\n".join("".join(row[x].data for x in columns) for row in rows)

    async def wait_for(self, text: str, timeout: float = 30.0) -> float:
        """Until ``text`` shows on the screen: the seconds it took (TimeoutError)."""
        return await self.wait_until(lambda screen: text in screen, timeout, what=repr(text))

    async def wait_until(
        self, check: Callable[[str], bool], timeout: float = 30.0, *, what: str = "the screen"
    ) -> float:
        """Until ``check(screen text)`` holds: the seconds it took (TimeoutError;
        ConnectionError when the desk closed first)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not check(self.text()):
            if self.closed is not None:
                raise ConnectionError(f"desk {self.code} closed ({self.closed}) before {what}")
            remaining = timeout - (loop.time() - start)
            if remaining <= 0:
                raise TimeoutError(f"{what} not on desk {self.code}'s screen:\n{self.text()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._next_change()), remaining)
        return loop.time() - start

    async def key(self, data: str) -> float:
        """Send keys (as xterm.js does: ``\\r`` Enter, ``\\x1b[19~`` F8 …); the seconds
        until the screen answered with its first bytes."""
        assert self.ws is not None
        if self.closed is not None:
            raise ConnectionError(f"desk {self.code} closed ({self.closed}) before a key")
        loop = asyncio.get_running_loop()
        change = self._next_change()  # whichever bytes come after the keys went
        sent = loop.time()
        await self.ws.send_str(json.dumps(["stdin", data]))
        await asyncio.wait_for(asyncio.shield(change), 10.0)
        if self.closed is not None:
            raise ConnectionError(f"desk {self.code} closed ({self.closed}) after a key")
        return self.last_output - sent

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader
        if self.session is not None:
            await self.session.close()
