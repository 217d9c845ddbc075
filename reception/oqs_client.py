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
- Typed errors, each with a title for staff (:mod:`reception.oqs_errors`); the breaker is
  :mod:`reception.oqs_breaker`, the TLS context :mod:`reception.oqs_tls`.
- The service's own codes are read here and nowhere else in the terminal: an error's
  code and a result's ``ProcessingResultCode`` become a :class:`~reception.verdict.Refusal`
  (:func:`refusal_of`, :func:`read_result`), which the check-in, the folder interface and
  the records view decide on; the code itself stays on the error and in the result, for
  the developer view, the logs and the exported file (``tests/unit/test_oqs_edge.py``
  fails when a module of ``reception/`` but this one names one).
- A 429 (the service holds this facility back: its lookups by number, its 一括照会 jobs,
  its unused nonces) is never retried, and for the ``Retry-After`` it names the client
  does not ask that kind of request again — it fails at once, without a request
  (:class:`OqsRateLimited`): a queue of re-verifications or a folder of request files
  does not hammer a service that said wait."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from reception.oqs_breaker import BreakerState, CircuitBreaker
from reception.oqs_errors import (
    OqsCircuitOpen,
    OqsError,
    OqsMalformed,
    OqsRateLimited,
    OqsRefused,
    OqsServerError,
    OqsTimeout,
    OqsUnavailable,
)
from reception.oqs_queries import NumberQuery, PatientKey, ReferenceOutcome
from reception.oqs_tls import ResumingContext, client_ssl_context
from reception.results import QualificationResult, RegistrationOffer
from reception.settings import OqsSettings
from reception.verdict import Refusal
from reception.vocabulary import SharedRecords

__all__ = [
    "RECORD_KINDS",
    "BreakerState",
    "CardConfirmation",
    "CardStanding",
    "CircuitBreaker",
    "NumberQuery",
    "OqsCircuitOpen",
    "OqsClient",
    "OqsError",
    "OqsMalformed",
    "OqsRateLimited",
    "OqsRefused",
    "OqsServerError",
    "OqsTimeout",
    "OqsUnavailable",
    "PatientKey",
    "ReferenceOutcome",
    "Refusal",
    "ResumingContext",
    "client_ssl_context",
    "read_result",
    "read_standing",
    "refusal_of",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

RECORD_KINDS = tuple(SharedRecords)
# the bulk kinds by period: 訪問診療 (OQSmuhvq), オンライン診療 (OQSmuonq), 医療扶助 (OQSmutic)
PERIOD_PATHS = {
    "visit": "/v1/bulk-visits",
    "online": "/v1/bulk-online",
    "aid": "/v1/bulk-medical-aid",
}


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
    # two steps (:meth:`OqsClient.check_card`): the proof now, the consents later
    consents_later: bool | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class CardStanding:
    """The first step's answer (:meth:`OqsClient.check_card`, and a registration made on
    the way): ``consent_offer`` where the card can be confirmed — the patient's consents
    go with its token (:meth:`OqsClient.give_consents`) — else ``result`` is the answer
    (a refusal: certificate lapsed or revoked, not registered; with a registration offer
    where the reader may register the card now)."""

    result: QualificationResult
    consent_offer: RegistrationOffer | None = None  # same fields: a token and its expiry


def read_standing(data: Any) -> CardStanding:
    """The first step's answer: the result, and the ``ConsentOffer`` beside it if any."""
    offer = data.get("ConsentOffer") if isinstance(data, dict) else None
    return CardStanding(
        read_result(data),
        RegistrationOffer.model_validate(offer) if offer is not None else None,
    )


# The service's codes (mock_oqs/service.py lists them; the real service's are not public,
# oqs.md §3): read here, and nowhere else in the terminal.
_ERROR_CODES = {
    "MOCK-E001": Refusal.NO_CLIENT_CERTIFICATE,
    "MOCK-E002": Refusal.NONCE_UNUSABLE,
    "MOCK-E003": Refusal.SIGNATURE_REFUSED,
    "MOCK-E004": Refusal.CERTIFICATE_REFUSED,
    "MOCK-E005": Refusal.STATEMENT_REFUSED,
    "MOCK-E006": Refusal.MALFORMED_REQUEST,
    "MOCK-E007": Refusal.NO_SUCH_QUALIFICATION,
    "MOCK-E008": Refusal.NO_CONSENT,
    "MOCK-E009": Refusal.TOO_MANY_NONCES,
    "MOCK-E010": Refusal.NO_SUCH_ENDPOINT,
    "MOCK-E011": Refusal.TOO_LARGE,
    "MOCK-E012": Refusal.TOO_SLOW,
    "MOCK-E013": Refusal.TOO_MANY_CONNECTIONS,
    "MOCK-E014": Refusal.NO_SUCH_BULK,
    "MOCK-E015": Refusal.NO_SUCH_OFFER,
    "MOCK-E016": Refusal.CONSENT_EXPIRED,
    "MOCK-E017": Refusal.NOT_OPEN_TO_PROOF,
    "MOCK-E018": Refusal.TOO_MANY_LOOKUPS,
    "MOCK-E019": Refusal.TOO_MANY_BULK_JOBS,
    "MOCK-E020": Refusal.TOO_MANY_BIRTH_DATES,
}
# a result's ProcessingResultCode when its ProcessingResultStatus is 2
_RESULT_CODES = {
    "MOCK-R001": Refusal.CERTIFICATE_REVOKED,
    "MOCK-R002": Refusal.CERTIFICATE_LAPSED,
    "MOCK-R003": Refusal.NOT_REGISTERED,
}


def refusal_of(code: str | None) -> Refusal:
    """Why the service refused, from its code (an error's or a result's); a code this
    terminal does not know is :attr:`Refusal.UNKNOWN`."""
    return _ERROR_CODES.get(code or "") or _RESULT_CODES.get(code or "", Refusal.UNKNOWN)


def read_result(data: Any) -> QualificationResult:
    """A result message as the service sent it, with why it was not processed (a result
    whose ProcessingResultStatus is not 1) as a :class:`Refusal`; ``ValueError`` when
    it is not a result."""
    result = QualificationResult.parse(data)
    if not result.processed:
        result.refused_because(refusal_of(result.message_body.processing_result_code))
    return result


# kinds of request that a 429 holds back together (the service's own limits): lookups by
# number one by one, 一括照会 uploads, nonces
_LIMIT_GROUPS = (
    ("/v1/confirmations/number", "lookup"),
    ("/v1/records/", "lookup"),
    ("/v1/reference-numbers", "lookup"),
    ("/v1/bulk-", "bulk"),  # 一括照会 and the bulk kinds by period
    ("/v1/nonces", "nonce"),
)


def _limit_group(method: str, path: str) -> str | None:
    if method != "POST":  # fetching a 一括照会's answers is not limited
        return None
    return next((group for prefix, group in _LIMIT_GROUPS if path.startswith(prefix)), None)


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
            parse=read_result,
        )

    async def check_card(self, confirmation: CardConfirmation) -> CardStanding:
        """The first of two steps: the holder's proof alone, right after identity — the
        service answers whether this card can be confirmed before the patient is asked
        anything more (:class:`CardStanding`). Never retried: the nonce is single-use (it
        is spent here; the second step is bound to this one by the offer's token)."""
        first = confirmation.model_copy(
            update={"consents_later": True, "consents": None, "prescription_issue": None}
        )
        return await self._call(
            "POST",
            "/v1/confirmations/card",
            json_body=first.body(),
            retry=False,
            parse=read_standing,
        )

    async def give_consents(
        self, offer: RegistrationOffer, consents: dict[str, bool], prescription: str | None
    ) -> QualificationResult:
        """The second step: what the patient chose, for the proof the first step kept; the
        confirmation's result. Never retried: the offer is single-use."""
        body: dict[str, Any] = {"token": offer.token, "consents": consents}
        if prescription is not None:
            body["prescription_issue"] = prescription
        return await self._call(
            "POST",
            "/v1/confirmations/card/consents",
            json_body=body,
            retry=False,
            parse=read_result,
        )

    async def register(self, offer: RegistrationOffer) -> CardStanding:
        """保険証利用登録 of the card of a 未登録 answer, and that confirmation's answer (of
        a first step: a consent offer). Never retried: the offer is single-use."""
        return await self._call(
            "POST",
            "/v1/registrations",
            json_body={"token": offer.token},
            retry=False,
            parse=read_standing,
        )

    async def confirm_number(self, query: NumberQuery) -> QualificationResult:
        return await self._call(
            "POST",
            "/v1/confirmations/number",
            json_body=query.body(),
            retry=True,
            parse=read_result,
        )

    async def records(self, patient: NumberQuery | PatientKey, kind: str) -> list[dict[str, Any]]:
        """薬剤情報 (medications), 診療情報 (diagnoses), 手術情報 (operations) or 特定健診
        (checkups) of the patient of these numbers: the service gives them only while the
        patient's consent at this facility holds (24 h; :class:`OqsRefused`,
        :attr:`Refusal.NO_CONSENT` without one, :attr:`Refusal.CONSENT_EXPIRED` once
        expired)."""
        return (await self.records_of(patient, kind))[1]

    async def start_bulk(self, queries: list[NumberQuery]) -> str:
        """一括照会: the service's ``ReceptionNumber`` for these queries (answered later)."""
        body = {"queries": [q.body() for q in queries]}
        return await self._call(
            "POST", "/v1/bulk-confirmations", json_body=body, retry=False, parse=_reception_number
        )

    async def fetch_bulk(
        self, number: str, jobs: str = "/v1/bulk-confirmations"
    ) -> list[QualificationResult] | None:
        """The answers of a 一括照会 (or of the bulk kind of qualifications at ``jobs``)
        once all are made; None while it runs."""
        if not number.isalnum():
            raise ValueError(f"not a ReceptionNumber: {number!r}")

        def parse(data: Any) -> list[QualificationResult] | None:
            if data["SegmentOfResult"] != "1":
                return None
            return [read_result(m) for m in data["results"]]

        return await self._call("GET", f"{jobs}/{number}", retry=True, parse=parse)

    async def register_reference_number(
        self, patient: NumberQuery | PatientKey, number: str
    ) -> ReferenceOutcome:
        """照会番号: the clinic's own patient id for this patient; later results carry it.
        The outcome says whether it was made (the numbers must lead to one person)."""

        def parse(data: Any) -> ReferenceOutcome:
            outcome = ReferenceOutcome.model_validate(data)
            if outcome.info.get("ReferenceNumber") != number:
                raise ValueError("the service registered another number")
            return outcome

        body = patient.patient() | {"reference_number": number}
        return await self._call(
            "POST", "/v1/reference-numbers", json_body=body, retry=True, parse=parse
        )

    async def start_bulk_references(
        self, registrations: list[tuple[PatientKey, str]], identifier: str | None
    ) -> str:
        """照会番号一括登録: the service's ``ReceptionNumber`` for these registrations (each
        a patient and its 照会番号), made later; ``identifier``: the upload's
        ArbitraryFileIdentifier, which the results echo."""

        body: dict[str, Any] = {
            "registrations": [p.patient() | {"reference_number": n} for p, n in registrations]
        }
        if identifier:
            body["arbitrary_file_identifier"] = identifier
        return await self._call(
            "POST",
            "/v1/bulk-reference-numbers",
            json_body=body,
            retry=False,
            parse=_reception_number,
        )

    async def fetch_bulk_references(
        self, number: str
    ) -> tuple[list[ReferenceOutcome] | None, str | None]:
        """The outcomes of a 照会番号一括登録 once all are made (None while it runs), and the
        upload's ArbitraryFileIdentifier. A 一括照会's ReceptionNumber is none of these."""
        if not number.isalnum():
            raise ValueError(f"not a ReceptionNumber: {number!r}")

        def parse(data: Any) -> tuple[list[ReferenceOutcome] | None, str | None]:
            identifier = data.get("ArbitraryFileIdentifier")
            identifier = identifier if isinstance(identifier, str) else None
            if data["SegmentOfResult"] != "1":
                return None, identifier
            return [ReferenceOutcome.model_validate(r) for r in data["results"]], identifier

        return await self._call(
            "GET", f"/v1/bulk-reference-numbers/{number}", retry=True, parse=parse
        )

    async def records_of(
        self, patient: NumberQuery | PatientKey, kind: str
    ) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """:meth:`records`, and the patient they are of (``name``, ``name_kana``,
        ``birth_date`` YYYYMMDD, ``sex``): what the link's YZK / TKK answers name."""
        if kind not in RECORD_KINDS:
            raise ValueError(f"no such records: {kind!r} ({', '.join(RECORD_KINDS)})")

        def parse(data: Any) -> tuple[dict[str, str], list[dict[str, Any]]]:
            rows, person = data[kind], data["patient"]
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ValueError(f"{kind} is not a list of records")
            if not isinstance(person, dict):
                raise ValueError("patient is not a person's name, birth date and sex")
            return {key: str(value) for key, value in person.items()}, rows

        path = f"/v1/records/{kind}"
        return await self._call("POST", path, json_body=patient.patient(), retry=True, parse=parse)

    async def start_period_bulk(self, kind: str, spec: dict[str, str]) -> str:
        """A bulk kind by period (``visit`` 訪問診療, ``online`` オンライン診療, ``aid``
        医療扶助; ``spec``: its days or month): the ``ReceptionNumber`` (answered later)."""

        path = PERIOD_PATHS[kind]
        return await self._call("POST", path, json_body=spec, retry=False, parse=_reception_number)

    async def fetch_period_bulk(self, kind: str, number: str) -> list[QualificationResult] | None:
        """The results of a bulk kind by period once all are made; None while it runs (a
        number of another kind is the service's MOCK-E014: :class:`OqsRefused`)."""
        return await self.fetch_bulk(number, PERIOD_PATHS[kind])

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
        raise OqsRateLimited(refused.status, refused.code, refused.detail, left, refused.reason)

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
            wait = _retry_after(response)
            raise OqsRateLimited(status, code, message, wait, refusal_of(code))
        if status >= 400:
            code, message = _error_fields(data)
            raise OqsRefused(status, code, message, refusal_of(code))
        if data is None:
            raise OqsMalformed(f"HTTP {status} from {path} is not JSON")
        try:
            return parse(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise OqsMalformed(f"unexpected answer from {path}: {exc}") from None


def _reception_number(data: Any) -> str:
    """A bulk job's ``ReceptionNumber`` as the service gives it (202)."""
    number = data["ReceptionNumber"]
    if not isinstance(number, str) or not number.isalnum():
        raise ValueError("ReceptionNumber is not a plain number")
    return number


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
