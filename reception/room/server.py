"""The training room's web server (issue 26): desks for trainees' browsers, the trainer's
page, one mock service — aiohttp, with textual-serve's client and app service.

textual-serve's own ``Server`` runs one fixed command for every connection at ``/``;
a room needs a desk per trainee (``/desk/<code>``, its websocket ``/ws/<code>``), so the
routes are ours and textual-serve gives the rest: the browser client (xterm.js), the
app process protocol (:mod:`reception.room.desks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import textual_serve
from aiohttp import web
from textual_serve.download_manager import DownloadManager

from reader.safe_text import printable
from reception.room.control import RoomControl
from reception.room.desks import SOCKET_MAX, DeskSession, DeskStatus, desk_argv
from reception.room.layout import NAME_MAX, Desk, NameError_, Room, clean_name

STATIC = Path(textual_serve.__file__).parent / "static"
FORM_MAX = 4096  # bytes of a form a page posts (a name, a code)
OFFER_HOLD = 600.0  # seconds a desk /join gave stays the trainee's before they name it
COOKIE_ROOM = "room_code"
COOKIE_TRAINER = "trainer"
# textual-serve's client makes its xterm.js without the screen reader's text rows; a
# room's desk page can ask for them (``?a11y=1``: a screen reader, a browser test)
A11Y_FROM = "scrollback:0,"
A11Y_TO = 'scrollback:0,screenReaderMode:document.body.dataset.a11y==="1",'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_script() -> bytes:
    text = (STATIC / "js" / "textual.js").read_text("utf-8")
    if text.count(A11Y_FROM) != 1:
        raise RuntimeError("textual-serve's client changed: the desk page's a11y option is gone")
    return text.replace(A11Y_FROM, A11Y_TO).encode()


class RoomServer:
    """The room's routes over its folder (:class:`Room`) and service (:class:`RoomControl`)."""

    def __init__(self, room: Room, control: RoomControl, *, protected: bool = False) -> None:
        self.room = room
        self.control = control
        self.protected = protected
        self.sessions: dict[str, DeskSession] = {}
        self._desk_locks: dict[str, asyncio.Lock] = {}
        self.status: dict[str, DeskStatus] = {}
        # desks /join gave a trainee not named yet: a class opening the page at once
        # gets a desk each, not all the first free one
        self.offered: dict[str, float] = {}
        self.downloads = DownloadManager()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(files("reception.room") / "templates")),
            autoescape=True,
        )
        self._script = client_script()

    # -- the app ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=FORM_MAX * 4, middlewares=[self._guard])
        app.add_routes(
            [
                web.get("/", self.landing),
                web.post("/join", self.join),
                web.get("/desk/{code}", self.desk_page),
                web.get("/desk/{code}/name", self.name_page),
                web.post("/desk/{code}/name", self.name_post),
                web.get("/ws/{code}", self.desk_socket),
                web.get("/static/js/textual.js", self.script),
                web.static("/static", STATIC),
            ]
        )
        from reception.room.trainer import add_trainer_routes  # it imports this module

        add_trainer_routes(app, self)
        app.on_shutdown.append(self._on_shutdown)
        return app

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        text = self.templates.get_template(template).render(**context)
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")

    # -- who may ----------------------------------------------------------------------------

    def _cookie_ok(self, request: web.Request, name: str, expected: str | None) -> bool:
        given = request.cookies.get(name, "")
        return expected is None or hmac.compare_digest(given.encode(), expected.encode())

    def trainee_allowed(self, request: web.Request) -> bool:
        if not self.protected:
            return True
        state = self.room.load()
        return self._cookie_ok(request, COOKIE_ROOM, state.room_code)

    def trainer_allowed(self, request: web.Request) -> bool:
        if not self.protected:
            return True
        state = self.room.load()
        return self._cookie_ok(request, COOKIE_TRAINER, state.trainer_password)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(("/desk/", "/ws/")) and not self.trainee_allowed(request):
            if path.startswith("/ws/"):
                raise web.HTTPForbidden(text="研修室コードが必要です")
            raise web.HTTPFound("/")
        response = await handler(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    # -- trainees' pages ----------------------------------------------------------------------

    async def landing(self, request: web.Request) -> web.Response:
        return self.render(
            "landing.html",
            protected=self.protected,
            desk=printable(request.query.get("desk", "")[:20]),
            view=view_query(request),
        )

    async def join(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return self.render(
                "landing.html", 413, protected=self.protected, desk="",
                error="入力が長すぎます。研修室コードとデスクのコードを確かめてください。",
            )  # fmt: skip
        state = self.room.load()
        view = view_query(request)
        wanted = str(form.get("desk", "")).strip().lower()
        if self.protected:
            given = str(form.get("room", "")).strip().lower()
            code = state.room_code or ""
            if not hmac.compare_digest(given.encode(), code.encode()):
                return self.render(
                    "landing.html", 403, protected=True, desk=printable(wanted[:20]), view=view,
                    error="研修室コードが違います。講師が示したコードを入れてください。",
                )  # fmt: skip
        if wanted:
            desk = self.room.desk(wanted)
            if desk is None:
                return self.render(
                    "landing.html", 404, protected=self.protected, desk=printable(wanted[:20]),
                    view=view,
                    error=f"デスク「{printable(wanted[:20])}」はこの研修室にありません。",
                )  # fmt: skip
        else:
            now = time.monotonic()
            free = [
                d
                for d in state.desks
                if not d.trainee
                and d.code not in self.sessions
                and now - self.offered.get(d.code, -OFFER_HOLD) >= OFFER_HOLD
            ]
            if not free:
                return self.render(
                    "landing.html", 409, protected=self.protected, desk="", view=view,
                    error="空いているデスクがありません。講師に伝えてください。",
                )  # fmt: skip
            desk = free[0]
            self.offered[desk.code] = now  # the next trainee gets another
        response = web.HTTPFound(f"/desk/{desk.code}{view}")
        if self.protected:
            response.set_cookie(
                COOKIE_ROOM, state.room_code or "", httponly=True, samesite="Strict"
            )
        raise response

    def _desk(self, request: web.Request) -> Desk:
        desk = self.room.desk(request.match_info["code"])
        if desk is None:
            raise web.HTTPNotFound(text="そのデスクはこの研修室にありません")
        return desk

    async def desk_page(self, request: web.Request) -> web.Response:
        desk = self._desk(request)
        state = self.room.load()
        if state.scenario is None:
            return self.render("waiting.html", desk=desk)
        if not desk.trainee:
            raise web.HTTPFound(f"/desk/{desk.code}/name{view_query(request)}")
        font = request.query.get("fontsize", "16")
        size = int(font) if font.isdigit() and 8 <= int(font) <= 40 else 16
        return self.render(
            "desk.html", desk=desk, font_size=size, a11y=request.query.get("a11y") == "1"
        )

    async def name_page(self, request: web.Request) -> web.Response:
        desk = self._desk(request)
        return self.render(
            "name.html",
            desk=desk,
            scenario=self.room.load().scenario,
            value=desk.trainee or "",
            name_max=NAME_MAX,
            view=view_query(request),
        )

    async def name_post(self, request: web.Request) -> web.StreamResponse:
        desk = self._desk(request)
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return self.render(
                "name.html", 413, desk=desk, scenario=self.room.load().scenario, value="",
                name_max=NAME_MAX, error=f"入力が長すぎます。名前は{NAME_MAX}文字までです。",
            )  # fmt: skip
        typed = str(form.get("trainee", ""))
        try:
            name = clean_name(typed)
        except NameError_ as exc:  # shown again as typed, its controls made visible (␛)
            return self.render(
                "name.html", 400, desk=desk, scenario=self.room.load().scenario,
                value=printable(typed[:80]), name_max=NAME_MAX, error=str(exc),
                view=view_query(request),
            )  # fmt: skip
        state = self.room.load()
        for entry in state.desks:
            if entry.code == desk.code:
                entry.trainee = name
        self.room.save(state)
        raise web.HTTPFound(f"/desk/{desk.code}{view_query(request)}")

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(body=self._script, content_type="application/javascript")

    # -- a desk's terminal --------------------------------------------------------------------

    async def desk_socket(self, request: web.Request) -> web.WebSocketResponse:
        desk = self._desk(request)
        state = self.room.load()
        if state.scenario is None or not desk.trainee:
            raise web.HTTPConflict(text="研修が始まっていないか、名前がまだです")
        # larger than a browser's message (MESSAGE_MAX, dropped beyond): a paste too long
        # is dropped, the tab stays; beyond this the connection closes (the desk stays)
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=SOCKET_MAX)
        await websocket.prepare(request)
        # one tab at a time takes a desk: the earlier tab's process gone (its run's journal
        # free) before this one's starts, however fast the tabs come
        async with self._desk_locks.setdefault(desk.code, asyncio.Lock()):
            earlier = self.sessions.get(desk.code)
            if earlier is not None:  # the desk opened in another tab: this one takes it
                await earlier.stop("このデスクは別のタブで開かれました")
            status = self.status.setdefault(desk.code, DeskStatus())
            status.down = None
            session = DeskSession(
                desk.code,
                websocket,
                desk_argv(self.room.folder, desk.code),
                status,
                self.downloads,
                log=self.room.log_path(desk.code),
                size=_size(request),
            )
            self.sessions[desk.code] = session
            await session.begin()
        try:
            await session.run()
        finally:
            if self.sessions.get(desk.code) is session:
                del self.sessions[desk.code]
        return websocket

    async def stop_desks(self, reason: str) -> None:
        """Every desk's process quits (their runs kept): the scenario stopped, the room ends."""
        sessions = list(self.sessions.values())
        await asyncio.gather(*(s.stop(reason) for s in sessions), return_exceptions=True)

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.stop_desks("研修室が閉じられました")
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.control.close)


def view_query(request: web.Request) -> str:
    """How the trainee asked to see the desk (``a11y=1``: the terminal's text for a screen
    reader; ``fontsize``), kept from the landing page through the name form to the desk:
    only those two, only their valid values."""
    kept = []
    if request.query.get("a11y") == "1":
        kept.append("a11y=1")
    font = request.query.get("fontsize", "")
    if font.isdigit() and 8 <= int(font) <= 40:
        kept.append(f"fontsize={int(font)}")
    return "?" + "&".join(kept) if kept else ""


def _size(request: web.Request) -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        value = request.query.get(name, "")
        return max(low, min(int(value), high)) if value.isdigit() else default

    return number("width", 80, 20, 500), number("height", 24, 8, 200)
