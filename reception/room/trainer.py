"""The trainer's page of a training room (issue 26 §1): every desk at a glance, the
room's report, the scenario started and stopped for every desk, the service or a desk's
reader broken for everyone or one desk.

Who may: on loopback, whoever reaches the page from this machine (the Host must be a
loopback name: a web page elsewhere cannot rebind its name to this server); otherwise
the trainer, with the password ``reception room`` printed (``/trainer/login`` sets an
httponly, SameSite=Strict cookie). A POST must come from this server's own pages: the
browser's ``Origin`` (or, without it, ``Referer``) names this host, and
``Sec-Fetch-Site`` when sent says same-origin — with the SameSite cookie, a form on
another site cannot act here. The pages send ``Referrer-Policy: same-origin`` so the
browser names their origin in their own POSTs, and a Content-Security-Policy that runs
no script but the page's own file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from reader.clock import now_jst
from reception.errors import InputError
from reception.room.layout import Desk, is_loopback
from reception.room.server import COOKIE_TRAINER, FORM_MAX, Handler
from reception.room.trainer_view import (
    SLOW_MS,
    Broken,
    DeskRow,
    Played,
    ScenarioBook,
    desk_rows,
    report_csv,
    report_lines,
    shown,
)
from reception.training.report import MARK
from reception.training.scenario import builtin_sets, load

if TYPE_CHECKING:
    from reception.room.server import RoomServer

PATH_MAX = 1024  # a scenario file's path typed by the trainer
FAULTS_AT_ONCE = 4  # `mock-oqs faults` programs run together (each takes the file's lock)
LOGIN_DELAY = 0.5  # seconds a wrong password waits (guessing is slow)
STOP_REASON = "講師が研修を終了しました"
SWITCH_REASON = "講師が研修を切り替えました"
# what the trainer can break: (mock-oqs faults' arguments on, off)
SERVICE_FAULTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "outage": (("--outage", "on"), ("--outage", "off")),
    "slow": (("--latency-ms", str(SLOW_MS)), ("--latency-ms", "0")),
    "hang": (("--hang", "on"), ("--hang", "off")),
}
FAULT_LABELS = {
    "outage": "サービス停止",
    "slow": "応答が遅い",
    "hang": "接続切れ（応答なし）",
    "reader": "リーダーを抜く",
}
FAULT_SHORT = {"outage": "停止", "slow": "遅延", "hang": "切断", "reader": "リーダー"}
SECURITY_HEADERS = {
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


class FormError(Exception):
    """A trainer's request that cannot be done: the message (Japanese) and the status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Notice:
    text: str
    error: bool
    at: dt.datetime

    def as_json(self) -> dict[str, object]:
        return {"text": self.text, "error": self.error, "at": self.at.strftime("%H:%M:%S")}


def add_trainer_routes(app: web.Application, server: RoomServer) -> Trainer:
    """The trainer's routes (``/trainer…``) on the room's ``app``, with their guard."""
    trainer = Trainer(server)
    server.templates.filters["shown"] = shown
    app.middlewares.append(trainer.guard)
    app.add_routes(
        [
            web.get("/trainer", trainer.page),
            web.get("/trainer/status.json", trainer.status_json),
            web.get("/trainer/report.html", trainer.report_html),
            web.get("/trainer/report.csv", trainer.report_csv),
            web.get("/trainer/trainer.js", trainer.script),
            web.get("/trainer/login", trainer.login_page),
            web.post("/trainer/login", trainer.login),
            web.post("/trainer/start", trainer.start),
            web.post("/trainer/stop", trainer.stop),
            web.post("/trainer/fault", trainer.fault),
        ]
    )
    return trainer


def _trainer_path(path: str) -> bool:
    return path == "/trainer" or path.startswith("/trainer/")


def _same_origin(request: web.Request) -> bool:
    """A POST from this server's own page (see the module's docstring)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if referer is None:
            return site is None  # not a browser (a script, a test): the cookie decides
        origin = referer
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == request.host


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


class Trainer:
    """The trainer's page over the room's server (its room, control, desks' status)."""

    def __init__(self, server: RoomServer) -> None:
        self.server = server
        self.book = ScenarioBook()
        self.last: Played | None = None  # the scenario played before the room stopped it
        self.busy: str | None = None  # a start or stop under way
        self.notice: Notice | None = None
        self._lock = asyncio.Lock()
        self._script = (files("reception.room") / "templates" / "trainer.js").read_bytes()

    # -- who may ----------------------------------------------------------------------------

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _trainer_path(request.path):
            return await handler(request)
        refused = self._refusal(request)
        if refused is not None:
            return refused
        response = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _refusal(self, request: web.Request) -> web.StreamResponse | None:
        server = self.server
        if not server.protected and not is_loopback(request.url.host or ""):
            return web.Response(
                status=403,
                text="講師の画面はこのパソコンから http://127.0.0.1:… で開いてください",
            )
        if request.method == "POST" and not _same_origin(request):
            return self._answer(request, "別のサイトからの操作は受け付けません", 403)
        if request.path == "/trainer/login" or server.trainer_allowed(request):
            return None
        if request.method == "GET" and not request.path.endswith(".json"):
            raise web.HTTPSeeOther("/trainer/login")
        return self._answer(request, "講師用パスワードでログインしてください", 401)

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        if not self.server.protected:
            raise web.HTTPSeeOther("/trainer")
        return self.server.render("trainer_login.html")

    async def login(self, request: web.Request) -> web.StreamResponse:
        if not self.server.protected:
            raise web.HTTPSeeOther("/trainer")
        try:
            given = _text(await self._form(request), "password", 200).strip()
        except FormError as exc:
            return self.server.render("trainer_login.html", exc.status, error=str(exc))
        expected = self.server.room.load().trainer_password or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            await asyncio.sleep(LOGIN_DELAY)
            return self.server.render(
                "trainer_login.html",
                403,
                error="パスワードが違います。研修室を始めたときに表示された講師用パスワードです。",
            )
        response = web.HTTPSeeOther("/trainer")
        response.set_cookie(COOKIE_TRAINER, expected, httponly=True, samesite="Strict")
        raise response

    # -- what the page shows ----------------------------------------------------------------

    def played(self) -> Played | None:
        """The scenario played now, else the one played last (the report's)."""
        scenario = self.server.room.load().scenario
        if scenario is not None:
            found = self.book.played(scenario.set_or_file, scenario.started, scenario.scenario_id)
            if found is not None:
                self.last = found
            return found
        if self.last is None:
            self.last = self.book.last_played(self.server.room)
        return self.last

    def _status(self, base_url: str) -> dict[str, Any]:
        """Blocking (room.json, each desk's journal and control, the service's faults)."""
        room = self.server.room
        state = room.load()
        report_of = self.played()
        played = report_of if state.scenario is not None else None
        rows, everyone = desk_rows(room, state, base_url, played, self.server.status)
        scenario = None
        if state.scenario is not None:
            scenario = {
                "set_or_file": state.scenario.set_or_file,
                "id": state.scenario.scenario_id,
                "title": shown(state.scenario.title),
                "since": state.scenario.started.strftime("%Y-%m-%d %H:%M"),
                "cases": len(played.cases) if played else None,
            }
        return {
            "scenario": scenario,
            "report_of": shown(report_of.title) if report_of else None,
            "service": everyone.model_dump() | {"text": everyone.text},
            "busy": self.busy,
            "notice": self.notice.as_json() if self.notice else None,
            "protected": self.server.protected,
            "room_code": state.room_code,  # the trainees type it (a room on the LAN)
            "desks": [row.model_dump(mode="json") for row in rows],
        }

    async def status(self, request: web.Request) -> dict[str, Any]:
        base_url = f"{request.scheme}://{request.host}"
        return await asyncio.to_thread(self._status, base_url)

    async def page(self, request: web.Request) -> web.StreamResponse:
        status = await self.status(request)
        return self._page(status)

    def _page(self, status: dict[str, Any], code: int = 200) -> web.Response:
        return self.server.render(
            "trainer.html",
            code,
            view=status,
            desks=[DeskRow.model_validate(d) for d in status["desks"]],
            service=Broken.model_validate(status["service"]),
            sets=[(set_id, title) for set_id, title, _path in builtin_sets()],
            chosen=(status["scenario"] or {}).get("set_or_file", ""),
            labels=FAULT_LABELS,
            short=FAULT_SHORT,
            path_max=PATH_MAX,
        )

    async def status_json(self, request: web.Request) -> web.Response:
        return web.json_response(
            await self.status(request), dumps=lambda d: json.dumps(d, ensure_ascii=False)
        )

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(body=self._script, content_type="application/javascript")

    # -- the room's report ------------------------------------------------------------------

    async def _report(self) -> tuple[Played, list[Any]]:
        def read() -> tuple[Played | None, list[Any]]:
            played = self.played()
            if played is None:
                return None, []
            return played, report_lines(self.server.room, self.server.room.load(), played)

        played, lines = await asyncio.to_thread(read)
        if played is None:
            raise web.HTTPNotFound(text="報告はまだありません（研修が一度も行われていません）")
        return played, lines

    async def report_html(self, request: web.Request) -> web.StreamResponse:
        played, lines = await self._report()
        return self.server.render(
            "trainer_report.html",
            played=played,
            lines=lines,
            mark=MARK,
            made=now_jst().strftime("%Y-%m-%d %H:%M"),
        )

    async def report_csv(self, request: web.Request) -> web.StreamResponse:
        played, lines = await self._report()
        body = ("\ufeff" + report_csv(played, lines)).encode("utf-8")  # Excel reads the BOM
        name = f"room-report-{played.scenario_id}.csv"
        return web.Response(
            body=body,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- the trainer's actions --------------------------------------------------------------

    async def _form(self, request: web.Request) -> MultiDictProxy[Any]:
        if request.content_length is not None and request.content_length > FORM_MAX:
            raise FormError(f"送られた内容が大きすぎます（{FORM_MAX} バイトまで）", 413)
        try:
            return await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise FormError(f"送られた内容が大きすぎます（{FORM_MAX} バイトまで）", 413) from None
        except (ValueError, UnicodeDecodeError):
            raise FormError("送られたフォームを読めません") from None

    def _answer(self, request: web.Request, message: str, status: int) -> web.Response:
        """A refusal: JSON for the page's script, plain text for anything else."""
        if _wants_json(request):
            return web.json_response(
                {"ok": False, "message": message},
                status=status,
                dumps=lambda d: json.dumps(d, ensure_ascii=False),
            )
        return web.Response(text=message, status=status, content_type="text/plain")

    async def _done(
        self, request: web.Request, message: str, *, error: bool = False, status: int = 200
    ) -> web.StreamResponse:
        """The outcome of an action: kept as the page's notice; JSON for the page's script,
        else the page again (an error) or a redirect to it (done)."""
        self.notice = Notice(message, error, now_jst())
        if _wants_json(request):
            return web.json_response(
                {"ok": not error, "message": message},
                status=status,
                dumps=lambda d: json.dumps(d, ensure_ascii=False),
            )
        if error:
            return self._page(await self.status(request), status)
        raise web.HTTPSeeOther("/trainer")

    async def _act(self, request: web.Request, action: Any) -> web.StreamResponse:
        try:
            form = await self._form(request)
            message = await action(form)
        except FormError as exc:
            return await self._done(request, str(exc), error=True, status=exc.status)
        return await self._done(request, message)

    @asynccontextmanager
    async def _exclusive(self, what: str) -> AsyncIterator[None]:
        if self._lock.locked():
            raise FormError(f"{self.busy or '別の操作'}の途中です。終わってからもう一度どうぞ", 409)
        async with self._lock:
            self.busy = what
            try:
                yield
            finally:
                self.busy = None

    async def start(self, request: web.Request) -> web.StreamResponse:
        return await self._act(request, self._start)

    async def _start(self, form: MultiDictProxy[Any]) -> str:
        choice = _scenario_choice(form)
        async with self._exclusive("研修の開始"):
            try:
                await asyncio.to_thread(load, choice)  # a bad file stops nothing
            except InputError as exc:
                raise FormError(f"開始できません: {exc}") from None
            if self.server.room.load().scenario is not None:
                self.played()
                await self.server.stop_desks(SWITCH_REASON)
            try:
                scenario = await asyncio.to_thread(self.server.control.start, choice)
            except (InputError, RuntimeError, OSError) as exc:
                raise FormError(f"開始できませんでした: {exc}", 500) from None
        desks = len(self.server.room.load().desks)
        return f"「{scenario.title}」を開始しました（デスク {desks} 台）"

    async def stop(self, request: web.Request) -> web.StreamResponse:
        return await self._act(request, self._stop)

    async def _stop(self, form: MultiDictProxy[Any]) -> str:
        async with self._exclusive("研修の終了"):
            scenario = self.server.room.load().scenario
            if scenario is None:
                raise FormError("研修は行われていません", 409)
            self.played()  # kept for the report
            await self.server.stop_desks(STOP_REASON)
            await asyncio.to_thread(self.server.control.stop)
        return f"「{scenario.title}」を終了しました（記録は各デスクに残っています）"

    async def fault(self, request: web.Request) -> web.StreamResponse:
        return await self._act(request, self._fault)

    async def _fault(self, form: MultiDictProxy[Any]) -> str:
        target = _text(form, "desk", 20).strip().lower()
        kind, _, wanted = _text(form, "change", 20).partition(":")
        if kind not in FAULT_LABELS or wanted not in ("on", "off"):
            raise FormError("どの故障を入れるか（切るか）がわかりません")
        state = self.server.room.load()
        if target == "all":
            desks, who = state.desks, "全員"
        else:
            desk = self.server.room.desk(target)
            if desk is None:
                raise FormError(f"デスク「{target}」はこの研修室にありません", 404)
            desks, who = [desk], f"デスク {desk.number}"
        on = wanted == "on"
        if kind == "reader":
            for desk in desks:
                self.server.room.set_control(desk.code, reader_unplugged=on)
            done = "リーダーを抜きました" if on else "リーダーを差し直しました"
            return f"{who}: {done}"
        await self._service_fault(kind, on, desks, everyone=target == "all")
        return f"{who}: {FAULT_LABELS[kind]}を{'入れました' if on else '戻しました'}"

    async def _service_fault(self, kind: str, on: bool, desks: list[Desk], everyone: bool) -> None:
        """Global and each desk's own entry for everyone (a clinic's own entry replaces
        the global one), the desk's alone for one."""
        if self.server.control.world is None:
            raise FormError("研修が行われていないので、止めるサービスがありません", 409)
        args = SERVICE_FAULTS[kind][0 if on else 1]
        scopes: list[str | None] = [None] if everyone else []
        scopes += [d.facility for d in desks]
        gate = asyncio.Semaphore(FAULTS_AT_ONCE)

        async def one(facility: str | None) -> None:
            async with gate:
                await asyncio.to_thread(self.server.control.faults, *args, facility=facility)

        results = await asyncio.gather(*(one(f) for f in scopes), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise FormError(f"サービスの故障を変えられませんでした: {failed[0]}", 500)


def _text(form: MultiDictProxy[Any], name: str, most: int) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormError(f"「{name}」は文字で送ってください")
    if len(value) > most:
        raise FormError(f"「{name}」が長すぎます（{most} 文字まで）")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise FormError(f"「{name}」に制御文字が入っています")
    return value


def _scenario_choice(form: MultiDictProxy[Any]) -> str:
    """The built-in set chosen, or the scenario file's path typed (it wins)."""
    path = _text(form, "file", PATH_MAX).strip()
    if path:
        return path
    chosen = _text(form, "set", 100).strip()
    known = [set_id for set_id, _title, _path in builtin_sets()]
    if not chosen:
        raise FormError("研修セットを選ぶか、シナリオファイルのパスを入れてください")
    if chosen not in known:
        raise FormError(f"「{chosen}」という研修セットはありません（セット: {', '.join(known)}）")
    return chosen
