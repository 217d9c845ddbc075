"""The terminal's client of the online qualification service (httpx, mutual TLS).

- Timeouts from the settings (read 10 s by default, as seen in practice: oqs.md §1).
- Bounded retries only for requests that are safe to repeat: a nonce (an unused one
  just expires), a by-number query (a lookup), the shared records (GET), the health
  check. A card confirmation is never repeated: its nonce is single-use.
  Only failures that happen *before* the service could answer (connection refused,
  503) are retried, quickly; a read timeout has spent the budget and is not.
- A circuit breaker: after ``breaker_failures`` consecutive unavailable/timeout/5xx/
  garbage answers, calls fail at once with :class:`OqsCircuitOpen` for
  ``breaker_cooldown`` seconds (an outage becomes an immediate fallback offer, not
  one timeout per patient); then one trial request decides.
- Typed errors, each with a title for staff.
- A 429 (the service holds this facility back: its lookups by number, its 一括照会 jobs,
  its unused nonces) is never retried, and for the ``Retry-After`` it names the client
  does not ask that kind of request again — it fails at once, without a request
  (:class:`OqsRateLimited`): a queue of re-verifications or a folder of request files
  does not hammer a service that said wait.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import logging
import math
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from reception.errors import ReceptionError
from reception.results import QualificationEntry, QualificationResult, RegistrationOffer
from reception.settings import OqsSettings, SettingsError
from reception.vocabulary import SharedRecords

log = logging.getLogger(__name__)

T = TypeVar("T")


class NumberQuery(BaseModel):
    """A confirmation by the numbers of a 資格確認書 (or a 申立書's): the request body of
    ``POST /v1/confirmations/number``."""

    model_config = ConfigDict(frozen=True)

    insurer_number: str
    symbol: str = ""
    number: str
    branch: str = ""
    birth_date: dt.date
    limit_consent: bool = False
    arbitrary_file_identifier: str | None = None  # echoed in the answer's header

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "insurer_number": self.insurer_number,
            "symbol": self.symbol,
            "number": self.number,
            "birth_date": self.birth_date.strftime("%Y%m%d"),
            "limit_consent": self.limit_consent,
        }
        if self.branch:
            body["branch"] = self.branch
        if self.arbitrary_file_identifier:
            body["arbitrary_file_identifier"] = self.arbitrary_file_identifier
        return body

    @classmethod
    def of_entry(cls, entry: QualificationEntry) -> NumberQuery:
        """The numbers of a qualification in a result (to fetch records, register 照会番号)."""
        birth = entry.birthdate or ""
        try:
            day = dt.datetime.strptime(birth, "%Y%m%d").date()
        except ValueError:
            raise ValueError(f"the result has no usable birth date ({birth!r})") from None
        return cls(
            insurer_number=(entry.insurer_number or "").strip(),
            symbol=entry.insured_card_symbol or "",
            number=entry.insured_identification_number or "",
            branch=entry.insured_branch_number or "",
            birth_date=day,
        )

    def patient(self) -> dict[str, Any]:
        """The numbers alone: how records and 照会番号 requests name a patient."""
        return {
            k: v
            for k, v in self.body().items()
            if k not in ("limit_consent", "arbitrary_file_identifier")
        }


RECORD_KINDS = tuple(SharedRecords)


class CardConfirmation(BaseModel):
    """A confirmation by card: the body of ``POST /v1/confirmations/card`` — the card's
    signature over the nonce (PIN path) or the terminal's signed statement (face, 目視)."""

    method: str  # pin | face | visual
    nonce: str
    certificate: str  # the user-auth certificate, DER, base64
    signature: str | None = None
    statement: str | None = None
    statement_signature: str | None = None
    consents: dict[str, bool] | None = None
    prescription_issue: str | None = None  # OQSCD017: 1 電子, 2 紙 (the patient's choice)
    route: str | None = None  # reader | counter (居宅同意取得型): what the patient may agree to

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


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
            return (
                f"{self.title}。資格確認書や申立書などで確認してください"
                "（サービスが戻れば自動で再確認します）"
            )
        return f"{self.title}。詳しくは開発者タブをご覧ください"


class OqsUnavailable(OqsError):
    title = "資格確認サービスに接続できません"


class OqsCircuitOpen(OqsUnavailable):
    title = "資格確認サービス停止中（自動再確認待ち）"


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

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.reason = message


class OqsRateLimited(OqsRefused):
    """429: the service holds this facility back for a while (``retry_after`` seconds, if
    waiting helps). The query cannot go on now, as when the service is down: a new
    reception stays pending, re-verification stops, and the client does not ask that kind
    of request again until the time has passed."""

    title = "資格確認サービスの照会回数が上限に達しました"
    fallback = True

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after

    @property
    def holds_back(self) -> bool:
        """Whether every request of its kind waits (the facility's rate), or only this
        patient's numbers were refused (MOCK-E020: too many birth dates tried with them)."""
        return self.code != "MOCK-E020"

    @property
    def staff_message(self) -> str:
        if self.code == "MOCK-E020":
            return (
                "この番号では多くの異なる生年月日で照会されたため、今日は受け付けられません。"
                "資格確認書の番号と生年月日をもう一度確かめてください（申立書での受付もできます）"
            )
        when = (
            f"約{math.ceil(self.retry_after)}秒後に"
            if self.retry_after is not None
            else "時間をおいて"
        )
        if self.code == "MOCK-E019":
            return f"一括照会が多すぎるため受け付けられませんでした。{when}もう一度送ってください"
        if self.code == "MOCK-E009":
            return f"資格確認の要求が多すぎるため受け付けられませんでした。{when}やり直してください"
        if self.retry_after is None:  # a 一括照会 over the per-job cap: waiting won't help
            return "一括照会の件数が上限を超えています。件数を減らして送り直してください"
        return (
            "この医療機関からの番号による照会が上限に達しました。"
            f"{when}もう一度照会してください（資格確認書や申立書での確認もできます）"
        )


# kinds of request that a 429 holds back together (the service's own limits): lookups by
# number one by one, 一括照会 uploads, nonces
_LIMIT_GROUPS = (
    ("/v1/confirmations/number", "lookup"),
    ("/v1/records/", "lookup"),
    ("/v1/reference-numbers", "lookup"),
    ("/v1/bulk-confirmations", "bulk"),
    ("/v1/nonces", "nonce"),
)


def _limit_group(method: str, path: str) -> str | None:
    if method != "POST":  # fetching a 一括照会's answers is not limited
        return None
    return next((group for prefix, group in _LIMIT_GROUPS if path.startswith(prefix)), None)


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Consecutive-failure breaker with a cool-down and a single trial request."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before(self) -> None:
        state = self.state
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._trial_running):
            assert self.opened_at is not None
            wait = max(0.0, self.cooldown - (self.clock() - self.opened_at))
            raise OqsCircuitOpen(
                f"the service failed {self.failures} times in a row; next try in {wait:.0f} s"
            )
        if state is BreakerState.HALF_OPEN:
            self._trial_running = True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self.failures += 1
        self._trial_running = False
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = self.clock()
            log.warning("OQS circuit breaker open after %d failures", self.failures)


class _RememberingObject(ssl.SSLObject):
    """A client TLS connection that hands its session to its context once the session
    can be resumed (a TLS 1.3 ticket arrives after the handshake, with the first read)."""

    _remembered = False

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002 (ssl's name)
        try:
            return super().read(len, buffer)
        finally:
            if not self._remembered:
                context = self.context
                if isinstance(context, ResumingContext):
                    self._remembered = context.remember(self)


class ResumingContext(ssl.SSLContext):
    """A client context that resumes the last TLS session with the same server on a new
    connection: the pool drops idle connections (the service closes them after its
    keep-alive time), and a resumed handshake skips the certificate exchange and the
    signatures of a full one (about half its cost on loopback; ``scripts/bench-checkin``).

    asyncio's TLS (which httpx uses) makes every connection with ``wrap_bio`` and no
    session, and httpx has no hook for one, so the context supplies it. The server's
    identity was verified when the session was made; the service still sees the
    terminal's certificate (it is part of the session). A server that does not know
    the ticket (restarted, another worker process) just does a full handshake.
    """

    sslobject_class = _RememberingObject
    _sessions: dict[str, ssl.SSLSession]
    connections = 0  # client connections through the handshake (counted once a session
    resumed = 0  # is known), and how many of them resumed one

    def remember(self, connection: ssl.SSLObject) -> bool:
        """Keep the connection's session for its server once it can be resumed; true when
        there is nothing more to wait for."""
        host = connection.server_hostname
        if host is None or connection.server_side:
            return True
        version = connection.version()
        session = connection.session
        if version is None or session is None:
            return False  # not yet through the handshake
        if version == "TLSv1.3" and not session.has_ticket:
            return False  # the ticket follows the handshake
        self.connections += 1
        self.resumed += connection.session_reused
        if session.has_ticket or session.id:  # else a TLS 1.2 server offering none
            self.sessions[host] = session
        return True

    @property
    def sessions(self) -> dict[str, ssl.SSLSession]:
        try:
            return self._sessions
        except AttributeError:
            self._sessions = {}
            return self._sessions

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        if session is None and not server_side and server_hostname is not None:
            host = server_hostname  # httpcore hands an IP address over as bytes
            session = self.sessions.get(host.decode() if isinstance(host, bytes) else host)
        return super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)


def client_ssl_context(settings: OqsSettings) -> ResumingContext:
    """The terminal's TLS context (TLS 1.2+, the server verified against ``settings.ca``
    or the system's CAs, sessions resumed: :class:`ResumingContext`);
    :class:`SettingsError` naming the setting and the file when one is missing or
    unusable."""
    files = [
        ("oqs.ca (RECEPTION_OQS__CA)", settings.ca),
        ("oqs.client_cert (RECEPTION_OQS__CLIENT_CERT)", settings.client_cert),
        ("oqs.client_key (RECEPTION_OQS__CLIENT_KEY)", settings.client_key),
    ]
    for name, path in files:
        if path is not None and not Path(path).is_file():
            raise SettingsError(f"{name}: no such file: {path}")
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)  # as create_default_context makes it
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if settings.ca:
            ctx.load_verify_locations(cafile=str(settings.ca))
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(f"{files[0][0]}: {settings.ca}: not a usable CA file ({exc})") from None
    if settings.client_cert is not None and settings.client_key is not None:
        try:
            ctx.load_cert_chain(settings.client_cert, settings.client_key)
        except (ssl.SSLError, OSError) as exc:
            raise SettingsError(
                f"{files[1][0]} / {files[2][0]}: {settings.client_cert} and "
                f"{settings.client_key} are not a usable certificate and key ({exc})"
            ) from None
    return ctx


class OqsClient:
    """One ``httpx.AsyncClient`` to the service, shared by every reception of a terminal."""

    def __init__(
        self,
        settings: OqsSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_exchange: Callable[[str, str, str, float], None] | None = None,
    ) -> None:
        """``on_exchange(method, path, outcome, seconds)`` sees every request (no bodies)."""
        if settings.url is None and transport is None:
            raise ValueError("no OQS url configured (settings oqs.url / RECEPTION_OQS__URL)")
        self.settings = settings
        self.on_exchange = on_exchange
        self.clock = clock
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown, clock)
        # a 429's Retry-After, per kind of request: until then, no request of that kind
        self._held: dict[str, tuple[float, OqsRateLimited]] = {}
        timeout = httpx.Timeout(
            settings.read_timeout,
            connect=settings.connect_timeout,
            pool=settings.connect_timeout,
        )
        kwargs: dict[str, Any] = {
            "timeout": timeout,
            "base_url": settings.url or "https://oqs",
            "limits": httpx.Limits(
                max_keepalive_connections=20 if settings.keepalive > 0 else 0,
                keepalive_expiry=settings.keepalive,
            ),
        }
        self.tls: ResumingContext | None = None
        if transport is not None:
            kwargs["transport"] = transport
        else:
            self.tls = client_ssl_context(settings)
            kwargs["verify"] = self.tls
        self._http = httpx.AsyncClient(**kwargs)

    async def __aenter__(self) -> OqsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the calls ------------------------------------------------------------------

    async def health(self) -> bool:
        try:
            await self._call("GET", "/health", retry=True, parse=lambda _: None)
        except OqsError:
            return False
        return True

    async def nonce(self) -> str:
        def parse(data: Any) -> str:
            value = data["nonce"]
            if not isinstance(value, str) or len(value) != 32:
                raise ValueError("nonce is not 32 hex digits")
            bytes.fromhex(value)
            return value

        return await self._call("POST", "/v1/nonces", retry=True, parse=parse)

    async def confirm_card(self, confirmation: CardConfirmation) -> QualificationResult:
        """Never retried: the nonce in it is single-use."""
        return await self._call(
            "POST",
            "/v1/confirmations/card",
            json_body=confirmation.body(),
            retry=False,
            parse=QualificationResult.parse,
        )

    async def register(self, offer: RegistrationOffer) -> QualificationResult:
        """保険証利用登録 of the card of a 未登録 answer, and that confirmation's result.
        Never retried: the offer is single-use."""
        return await self._call(
            "POST",
            "/v1/registrations",
            json_body={"token": offer.token},
            retry=False,
            parse=QualificationResult.parse,
        )

    async def confirm_number(self, query: NumberQuery) -> QualificationResult:
        return await self._call(
            "POST",
            "/v1/confirmations/number",
            json_body=query.body(),
            retry=True,
            parse=QualificationResult.parse,
        )

    async def records(self, patient: NumberQuery, kind: str) -> list[dict[str, Any]]:
        """薬剤情報 (medications), 診療情報 (diagnoses), 手術情報 (operations) or 特定健診
        (checkups) of the patient of these numbers: the service gives them only while the
        patient's consent at this facility holds (24 h; :class:`OqsRefused` MOCK-E008
        without one, MOCK-E016 once expired)."""
        if kind not in RECORD_KINDS:
            raise ValueError(f"no such records: {kind!r} ({', '.join(RECORD_KINDS)})")

        def parse(data: Any) -> list[dict[str, Any]]:
            rows = data[kind]
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ValueError(f"{kind} is not a list of records")
            return rows

        return await self._call(
            "POST", f"/v1/records/{kind}", json_body=patient.patient(), retry=True, parse=parse
        )

    async def start_bulk(self, queries: list[NumberQuery]) -> str:
        """一括照会: the service's ``ReceptionNumber`` for these queries (answered later)."""

        def parse(data: Any) -> str:
            number = data["ReceptionNumber"]
            if not isinstance(number, str) or not number.isalnum():
                raise ValueError("ReceptionNumber is not a plain number")
            return number

        body = {"queries": [q.body() for q in queries]}
        return await self._call(
            "POST", "/v1/bulk-confirmations", json_body=body, retry=False, parse=parse
        )

    async def fetch_bulk(self, number: str) -> list[QualificationResult] | None:
        """The answers of a 一括照会 once all are made; None while it runs."""
        if not number.isalnum():
            raise ValueError(f"not a ReceptionNumber: {number!r}")

        def parse(data: Any) -> list[QualificationResult] | None:
            if data["SegmentOfResult"] != "1":
                return None
            return [QualificationResult.parse(m) for m in data["results"]]

        return await self._call("GET", f"/v1/bulk-confirmations/{number}", retry=True, parse=parse)

    async def register_reference_number(self, patient: NumberQuery, number: str) -> str:
        """照会番号: the clinic's own patient id for this patient; later results carry it."""

        def parse(data: Any) -> str:
            value = data["ReferenceNumber"]
            if value != number:
                raise ValueError("the service registered another number")
            return str(value)

        body = patient.patient() | {"reference_number": number}
        return await self._call(
            "POST", "/v1/reference-numbers", json_body=body, retry=True, parse=parse
        )

    # -- machinery --------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        retry: bool,
        parse: Callable[[Any], T],
        json_body: dict[str, Any] | None = None,
    ) -> T:
        group = _limit_group(method, path)
        self._still_held(group, method, path)
        self.breaker.before()
        attempts = 1 + (self.settings.retries if retry else 0)
        for attempt in range(attempts):
            try:
                result = await self._once(method, path, json_body, parse)
            except OqsRateLimited as exc:  # never retried; held back while it says
                self.breaker.success()  # the service is up and answering
                if group is not None and exc.retry_after is not None and exc.holds_back:
                    self._held[group] = (self.clock() + exc.retry_after, exc)
                raise
            except (OqsUnavailable, OqsServerError) as exc:
                retriable = isinstance(exc, OqsUnavailable) or exc.status == 503
                if attempt + 1 < attempts and retriable:
                    await asyncio.sleep(0.1 * (attempt + 1))
                    continue
                self.breaker.failure()
                raise
            except (OqsTimeout, OqsMalformed):
                self.breaker.failure()
                raise
            except OqsRefused:
                self.breaker.success()  # the service is up and answering
                raise
            self.breaker.success()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _still_held(self, group: str | None, method: str, path: str) -> None:
        """Within a 429's Retry-After for this kind of request: fail at once, unsent."""
        if group is None or (held := self._held.get(group)) is None:
            return
        until, refused = held
        left = until - self.clock()
        if left <= 0:
            del self._held[group]
            return
        if self.on_exchange is not None:
            self.on_exchange(method, path, "held (429)", 0.0)
        raise OqsRateLimited(refused.status, refused.code, refused.reason, left)

    async def _once(
        self,
        method: str,
        path: str,
        json_body: dict[str, Any] | None,
        parse: Callable[[Any], T],
    ) -> T:
        start = time.perf_counter()
        outcome = "error"
        try:
            response = await self._exchange(method, path, json_body)
            outcome = str(response.status_code)
        except OqsError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if self.on_exchange is not None:
                self.on_exchange(method, path, outcome, time.perf_counter() - start)
        return self._parse(response, path, parse)

    async def _exchange(
        self, method: str, path: str, json_body: dict[str, Any] | None
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, json=json_body)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise OqsUnavailable(f"connecting timed out ({path})") from None
            raise OqsTimeout(
                f"no answer within {self.settings.read_timeout:g} s ({path})"
            ) from None
        except httpx.TransportError as exc:
            raise OqsUnavailable(f"{type(exc).__name__}: {exc} ({path})") from None

    def _parse(self, response: httpx.Response, path: str, parse: Callable[[Any], T]) -> T:
        status = response.status_code
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if status >= 500:
            raise OqsServerError(status, f"HTTP {status} from {path}: {_error_text(data)}")
        if status == 429:
            code, message = _error_fields(data)
            raise OqsRateLimited(status, code, message, _retry_after(response))
        if status >= 400:
            code, message = _error_fields(data)
            raise OqsRefused(status, code, message)
        if data is None:
            raise OqsMalformed(f"HTTP {status} from {path} is not JSON")
        try:
            return parse(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise OqsMalformed(f"unexpected answer from {path}: {exc}") from None


def _retry_after(response: httpx.Response) -> float | None:
    """A 429's Retry-After in seconds (the service sends seconds; an HTTP date, garbage or
    an absurd wait are taken as "not said"), at most a day."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, 24 * 3600.0)


def _error_fields(data: Any) -> tuple[str, str]:
    try:
        error = data["error"]
        return str(error["code"])[:40], str(error["message"])[:500]
    except (KeyError, TypeError):
        return "HTTP", "refused without an explanation"


def _error_text(data: Any) -> str:
    code, message = _error_fields(data)
    return f"{code} {message}"
