"""The use cases of the mock service, without HTTP: confirmations by card and by number,
保険証利用登録 at the reader — the rules engine. By role around it: :mod:`mock_oqs.proofs`
(what proves the holder and what it opens), :mod:`mock_oqs.qualifications` (the registry
as seen today, cached), :mod:`mock_oqs.results` (the typed answers and their one
conversion to the format), :mod:`mock_oqs.state` (nonces, consents, budgets),
:mod:`mock_oqs.lookups` (limits, records, 一括照会), :mod:`mock_oqs.references` (照会番号).

Card confirmation proves possession: the service issues a single-use nonce, the
card signs it (PIN path: RSA PKCS#1 v1.5 with SHA-256 over the 16 raw nonce
bytes), or the terminal signs a statement with its facility key (face and
visual paths, design.md §5). Then: chain to the mock JPKI CA, the registry link
(保険証利用登録), revocation, validity with the grace period, and the
qualification as the registry has it on the service's day.

Mock codes (there is no public list of the real ones; oqs.md §3):

======================  ====  ==========================================================
code                    HTTP  meaning
======================  ====  ==========================================================
MOCK-E001               401   a client certificate from the facility CA is required
MOCK-E002               409   nonce unknown, expired, already used, or another facility's
MOCK-E003               403   the card's signature over the nonce does not verify
MOCK-E004               403   the certificate is not a mock JPKI certificate (or unusable)
MOCK-E005               403   the face/visual statement is malformed, stale or unsigned
MOCK-E006               422   the request is malformed (field errors in the message)
MOCK-E007               404   no one person has a qualification with these numbers
MOCK-E008               403   no valid consent for these records (or grace period)
MOCK-E009               429   too many outstanding nonces for this facility
MOCK-E010               404   no such endpoint (405: not with this method)
MOCK-E011               413   request body over 64 KiB (431: headers over 16 KiB)
MOCK-E012               408   the request did not arrive in time (slow or stalled sender)
MOCK-E013               503   too many open connections to this worker
MOCK-E014               404   no 一括照会 with this ReceptionNumber for this facility
MOCK-E015               409   no such 保険証利用登録 or consent offer for this facility
                              (unknown, used, or older than 5 minutes)
MOCK-E016               403   the patient's consent for these records has expired (24 h)
MOCK-E017               403   not open to a holder proven this way: 保険証利用登録 after 目視,
                              or on the 居宅同意取得型 route; a consent item the method or
                              route does not offer (:data:`OPEN_AT`)
MOCK-E018               429   lookups by number over this facility's limit (per minute,
                              per day; a 一括照会's entries count, and a job over the
                              per-job cap): ``Retry-After`` says when, if waiting helps
MOCK-E019               429   一括照会 jobs over this facility's cap (running or stored)
MOCK-E020               429   too many different birth dates tried with one patient's
                              numbers at this facility (a rolling day; a 一括照会 holding
                              more is refused whole): ``Retry-After`` says when
MOCK-R001               200   ProcessingResultStatus 2: the certificate is revoked
MOCK-R002               200   ProcessingResultStatus 2: certificate expired, grace period over
MOCK-R003               200   ProcessingResultStatus 2: not registered for 保険証 use (when
                              the holder was proven by PIN or face at the reader, the answer
                              carries ``RegistrationOffer`` beside the message: POST
                              /v1/registrations registers the card; after 目視 or on the
                              居宅同意取得型 route there is none, and the message says why)
MOCK-R004               200   ProcessingResultStatus 2 of a 照会番号 registration: no one has a
                              qualification with these numbers
MOCK-R005               200   ProcessingResultStatus 2 of a 照会番号 registration: several
                              persons have one (a family): the 枝番 names one
======================  ====  ==========================================================

Notices: the simulator's own facts, never inside ``XmlMsg`` (oqs.md §2). The JSON
answer carries them beside the message (``"MockNotices"``, next to ``MessageHeader``
and ``MessageBody``); every answer also in the ``X-Mock-Notices`` header:
``certificate-grace``, ``certificate-renewal-due``, ``public-expense-paper``,
``preschool-ratio``, ``elderly-recipient``, ``limit-<区分>``, ``specific-disease-<code>``,
``medical-aid`` (医療扶助: the 福祉事務所 is the contact, not an insurer),
``medical-aid-not-designated`` (no 医療券 entrusts this institution this month),
``public-expense-card`` (the patient's 医療費助成 受給者証 came by card: the pilot).

公費 by card (the PMH pilot): the result-file element names are not public; the block
``MedicalSubsidyList/MedicalSubsidyInfo`` takes the names of the PMH registration API the
municipalities use (digital.go.jp, 2024: medicalSubsidyInsurerNumber,
medicalSubsidyRecipientNumber, certificationName, validFrom/To, maxCopaymentAmount,
isAlwaysReimbursement), PascalCase as the rest of the format.

医療扶助 codes the public material leaves open (the element names are the real ones —
``PublicExpenseResultList/MedicalTicketInfo``, as published clinic software reads them —
the values are this simulator's): ``TicketType`` 1 医療券, 2 調剤券;
``DesignatedMedicalInstitutionFlag`` 1 entrusted (this institution), 0 未委託・未登録;
``MedicalTreatmentType`` 1 入院外, 2 入院; ``SingleOrCombinedUse`` 1 単独, 2 併用.

Limits per facility (design.md §6.9, :class:`ServiceLimits`): lookups by number — a
confirmation by number, the shared records, a 照会番号 registration, each entry of a
一括照会 — are rate-limited per facility; 一括照会 jobs are capped (running and stored) and
their results purged. Every 429 is kept in the state file (table ``refusals``, one row per
facility, code and minute; ``mock-oqs refusals`` prints them) and in the access log.

Consent flags (oqs.md §5): since 2024-10-07 the 限度額適用認定証 information — and
with it the 特定疾病療養受療証's — is provided without asking, so a reader in today's
flow sends ``limit`` true and both ``…RelatedConsFlg`` are 1; the service still
honours false (the pre-2024 flow of old training material).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from mock_oqs import deregistration, registry
from mock_oqs.clock import JST, Clock, stamp
from mock_oqs.codes import QualificationValidity
from mock_oqs.limits import STATE_FILE, ServiceLimits
from mock_oqs.lookups import Lookups
from mock_oqs.models import (
    CardConfirmationRequest,
    Consents,
    ConsentSubmission,
    Method,
    NumberConfirmationRequest,
    Route,
)
from mock_oqs.period import Periods
from mock_oqs.proofs import (
    OPEN_AT,
    REGISTRATION_CLOSED,
    CardCertificates,
    IssuedCard,
    TerminalKey,
    b64,
    check_open,
    registration_open,
    verify_card_signature,
    verify_statement,
)
from mock_oqs.qualifications import CardLink, RegistryView, RegistryViews, Standing
from mock_oqs.refusal import Refusal
from mock_oqs.results import Body, Disclosed, Entry, Header, Message, RegistrationOffer
from mock_oqs.rules import CertificateState, certificate_state
from mock_oqs.state import ENV_RUN, REGISTRATION_OFFER_SECONDS, ServiceState
from mock_oqs.world import World

__all__ = ["ENV_RUN", "OPEN_AT", "Clock", "QualificationService", "Refusal"]


@dataclass(frozen=True, slots=True)
class Asked:
    """What one confirmation asks beyond whose qualifications: for which facility and
    when, with which consents, the prescription form, and whether each entry gets a
    ``QualificationConfirmationKey`` (card confirmations)."""

    facility: str
    now: dt.datetime
    stamp: str  # now, as the result writes a time (the header's ProcessExecutionTime)
    consents: Consents
    prescription: str | None = None
    keyed: bool = False
    # consents given before, valid until then (epoch seconds): shown as given, not given
    # again — the 居宅同意取得型 app's, as 訪問診療's bulk (OQSmuhvq) lists them
    consented_until: float | None = None


class QualificationService:
    """Confirmations against one world's registry."""

    def __init__(
        self,
        world: World,
        *,
        clock: Clock | None = None,
        nonce_ttl_seconds: float = 120.0,
        state_path: Path | None = None,
        max_outstanding_nonces: int | None = 256,
        limits: ServiceLimits | None = None,
    ) -> None:
        self.world = world
        self.clock = clock or Clock()
        self.nonce_ttl_seconds = nonce_ttl_seconds
        self.max_outstanding_nonces = max_outstanding_nonces
        self.limits = limits or ServiceLimits()
        self.certificates = CardCertificates(
            x509.load_pem_x509_certificate((world.directory / "jpki-ca" / "cert.pem").read_bytes())
        )
        self.state = ServiceState(
            state_path or world.directory / STATE_FILE,
            bulk_keep_seconds=self.limits.bulk_keep_hours * 3600,
        )
        self.views = RegistryViews(world.registry_path)
        self._local = threading.local()
        self.lookups = Lookups(self)
        self.periods = Periods(self)  # the bulk kinds by period (訪問診療 …)
        self.lookups.resume_bulk()  # 一括照会 jobs a killed or restarted service left unfinished

    def _writer(self) -> sqlite3.Connection:
        """The registry, writable: 保険証利用登録 at a reader changes it."""
        conn: sqlite3.Connection | None = getattr(self._local, "writer", None)
        if conn is None:
            conn = registry.connect(self.world.registry_path)
            conn.isolation_level = None  # transactions by registry.transaction
            self._local.writer = conn
        return conn

    def issue_nonce(self, facility: str) -> tuple[str, dt.datetime]:
        nonce, expires = self.state.issue_nonce(
            facility, self.nonce_ttl_seconds, self.max_outstanding_nonces
        )
        return nonce, dt.datetime.fromtimestamp(expires, dt.UTC)

    def record_refusal(self, facility: str | None, code: str, message: str) -> None:
        """The audit of a refusal that a trainer or developer should see (every 429)."""
        self.lookups.record_refusal(facility, code, message)

    def charge_lookup(self, facility: str) -> None:
        """One lookup by number: MOCK-E018 past the facility's limit."""
        self.lookups.charge_lookup(facility)

    # -- by card ------------------------------------------------------------------------

    def confirm_card(
        self, request: CardConfirmationRequest, facility: str, terminal_key: TerminalKey | None
    ) -> Message:
        """The result message (its ``persona`` for the access log, if known).

        The proof is checked and the answer made; then one state transaction spends the
        nonce and records the consents (a refusal of the nonce comes first, as ever:
        :meth:`ServiceState.confirmation`)."""
        check_open(request)
        now = self.clock.now()
        with self.state.confirmation(request.nonce, facility):
            card = self._proven(request, terminal_key, now)
            return self._card_result(request, facility, card.fingerprint, card.expiry, now)

    def _proven(
        self, request: CardConfirmationRequest, terminal_key: TerminalKey | None, now: dt.datetime
    ) -> IssuedCard:
        card = self.certificates.issued(b64(request.certificate, "certificate"))
        if card.not_before > now:
            raise Refusal("MOCK-E004", 403, "certificate is not valid yet")
        if request.method is Method.PIN:
            verify_card_signature(card, request)
        else:
            verify_statement(card, request, terminal_key)
        return card

    def register(self, token: str, facility: str) -> Message:
        """保険証利用登録 at the reader: the card of an offer (made when its holder was
        proven moments ago by PIN or face) is registered at once, and the confirmation it
        was for answered as if it had been registered before."""
        fingerprint, stored = self.state.take_registration_offer(token, facility)
        request = CardConfirmationRequest.model_validate_json(stored)
        if not registration_open(request):  # offers are never made so: a guard
            raise Refusal(
                "MOCK-E017",
                403,
                f"保険証利用登録 rests on the holder's proof by pin or face at the reader, "
                f"not {request.method.value} on the {request.route.value} route",
            )
        now = self.clock.now()
        with registry.transaction(self._writer()) as conn:
            registry.register_certificate(conn, fingerprint, now)
        with self.state.confirmation(None, facility):
            return self._card_result(request, facility, fingerprint, None, now, offer=False)

    def give_consents(self, submission: ConsentSubmission, facility: str) -> Message:
        """The second step of a confirmation in two steps: the patient's consents for the
        proof the first step checked and kept (its nonce spent then). The offer is single
        use, this facility's, and minutes old at most (MOCK-E015); the consents are checked
        against the method and route as ever (MOCK-E017), and the card's standing again
        (a revocation in between refuses)."""
        fingerprint, stored = self.state.take_consent_offer(submission.token, facility)
        request = CardConfirmationRequest.model_validate_json(stored).model_copy(
            update={
                "consents": submission.consents,
                "prescription_issue": submission.prescription_issue,
                "consents_later": False,
            }
        )
        check_open(request)
        now = self.clock.now()
        with self.state.confirmation(None, facility):
            return self._card_result(request, facility, fingerprint, None, now, offer=False)

    def _card_result(
        self,
        request: CardConfirmationRequest,
        facility: str,
        fingerprint: str,
        expiry: dt.date | None,
        now: dt.datetime,
        *,
        offer: bool = True,
    ) -> Message:
        """The result for a proven holder of the card with this certificate (``expiry``:
        its last day; None: as the registry has it)."""
        header = Header.at(now, facility, "1", request.arbitrary_file_identifier)
        view = self.views.view()
        view.fresh()  # a revocation or registration made anywhere shows at once
        link = view.link(fingerprint)
        if link is None:
            return Message.refused(header, "MOCK-R003", "保険証利用登録がありません")
        state = certificate_state(expiry or link.not_after, now.date())
        refused = self._card_refused(request, header, link, state, offer)
        if refused is not None:  # a cancelled registration (利用登録解除) is said as such
            return deregistration.explained(refused, view.conn, link.person_id)
        if not link.registered:
            offered = self._offer(request, header, link, fingerprint)
            return deregistration.explained(offered, view.conn, link.person_id)
        answer = self._card_answer(request, header, view, link, state, now)
        if request.consents_later:  # the card can be confirmed: now the consents
            token = self.state.offer_consents(facility, fingerprint, request.model_dump_json())
            until = dt.datetime.fromtimestamp(time.time() + REGISTRATION_OFFER_SECONDS, dt.UTC)
            consents = RegistrationOffer(token=token, expires_at=until.isoformat())
            return dataclasses.replace(answer, consent_offer=consents)
        return answer

    @staticmethod
    def _card_refused(
        request: CardConfirmationRequest,
        header: Header,
        link: CardLink,
        state: CertificateState,
        offer: bool,
    ) -> Message | None:
        persona = link.persona
        if link.revoked:
            return Message.refused(header, "MOCK-R001", "電子証明書は失効しています", persona)
        if state is CertificateState.LAPSED:
            return Message.refused(
                header,
                "MOCK-R002",
                "電子証明書の有効期限が切れ、猶予期間も過ぎています。更新が必要です",
                persona,
            )
        if not link.registered and not (offer and registration_open(request)):
            if offer:  # 目視, or the 居宅同意取得型 route
                why = Route.COUNTER if request.route is Route.COUNTER else Method.VISUAL
                return Message.refused(header, "MOCK-R003", REGISTRATION_CLOSED[why], persona)
            return Message.refused(header, "MOCK-R003", "保険証利用登録がありません", persona)
        return None

    def _offer(
        self, request: CardConfirmationRequest, header: Header, link: CardLink, fingerprint: str
    ) -> Message:
        """MOCK-R003 with a ``RegistrationOffer``: the holder is proven, the reader may
        register the card now (consents, prescription and file id kept for then)."""
        token = self.state.offer_registration(
            header.medical_institution_code, fingerprint, request.model_dump_json()
        )
        until = dt.datetime.fromtimestamp(time.time() + REGISTRATION_OFFER_SECONDS, dt.UTC)
        answer = Message.refused(header, "MOCK-R003", "保険証利用登録がありません", link.persona)
        offer = RegistrationOffer(token=token, expires_at=until.isoformat())
        return dataclasses.replace(answer, registration_offer=offer)

    def _card_answer(
        self,
        request: CardConfirmationRequest,
        header: Header,
        view: RegistryView,
        link: CardLink,
        state: CertificateState,
        now: dt.datetime,
    ) -> Message:
        notices: list[str] = []
        message: str | None = None
        consents = request.consents
        if state is CertificateState.GRACE:
            notices.append("certificate-grace")
            message = "電子証明書の有効期限が切れています（資格情報のみ）。更新してください"
            # qualification only: no records are shared in the grace period
            consents = Consents(limit=consents.limit)
        elif state is CertificateState.RENEWAL_DUE:
            notices.append("certificate-renewal-due")
            message = "電子証明書の有効期限が3か月以内です。更新してください"
        standings = view.standings(link.person_id, now.date(), header.medical_institution_code)
        asked = Asked(
            facility=header.medical_institution_code,
            now=now,
            stamp=header.process_execution_time,
            consents=consents,
            prescription=request.prescription_issue,
            # seen in real card results (face/ files); its form is not public: ours is an
            # opaque key, new for every confirmation (mock_oqs/format.py)
            keyed=True,
        )
        body = self.qualification_body(standings, asked, notices, message)
        if (
            request.route is Route.COUNTER
            and not request.consents_later
            and body.qualification_validity is QualificationValidity.VALID
        ):  # the 居宅同意取得型 app: 訪問診療's bulk (OQSmuhvq) lists the patient from now
            self.periods.record_visit(link.person_id, header.medical_institution_code, now)
        return Message(header, body, _sorted(notices), persona=link.persona)

    # -- by number ------------------------------------------------------------------------

    def confirm_number(self, request: NumberConfirmationRequest, facility: str) -> Message:
        now = self.clock.now()
        today = now.date()
        matches = self.lookups.numbered(request, facility)
        header = Header.at(now, facility, "2", request.arbitrary_file_identifier)
        persons = {s.person_id for s in matches}
        persona = matches[0].persona if len(persons) == 1 else None
        asked = Asked(
            facility=facility,
            now=now,
            stamp=header.process_execution_time,
            consents=Consents(limit=request.limit_consent),
        )
        notices: list[str] = []
        body: Body | None = None
        if len(persons) == 1 and len(matches) == 1 and not matches[0].valid:
            # lost: is there a newer qualification of the same person?
            others = self.views.view().standings(matches[0].person_id, today, facility)
            if any(other.valid for other in others):
                body = self._body(
                    QualificationValidity.INVALID_NEWER_EXISTS, matches, asked, notices, None
                )
        if body is None:
            body = self.qualification_body(matches, asked, notices, None)
        answer = Message(header, body, _sorted(notices), persona=persona)
        return answer.with_search_info(self.lookups.search_info(request))

    # -- the result ---------------------------------------------------------------------------

    def qualification_body(
        self,
        standings: tuple[Standing, ...],
        asked: Asked,
        notices: list[str],
        message: str | None,
    ) -> Body:
        """The body for these qualifications: one valid, several, a lost one, none."""
        valid = tuple(s for s in standings if s.valid)
        if len({s.person_id for s in standings}) > 1 or len(valid) > 1:
            found = valid or standings
            return self._body(QualificationValidity.MULTIPLE, found, asked, notices, message)
        if len(valid) == 1:
            return self._body(QualificationValidity.VALID, valid, asked, notices, message)
        if standings:
            last = standings[-1:]
            return self._body(QualificationValidity.INVALID, last, asked, notices, message)
        return self._body(QualificationValidity.NO_MATCH, (), asked, notices, message)

    def _body(
        self,
        validity: QualificationValidity,
        standings: tuple[Standing, ...],
        asked: Asked,
        notices: list[str],
        message: str | None,
    ) -> Body:
        if validity is not QualificationValidity.VALID:
            # records are shared, and a prescription form chosen, for a valid one only
            asked = dataclasses.replace(
                asked, consents=Consents(limit=asked.consents.limit), prescription=None
            )
        entries = tuple(
            Entry(standing.qualified, self._disclosed(standing, asked, notices))
            for standing in standings
        )
        return Body(
            processing_result_status="1",
            processing_result_code=None,
            processing_result_message=message,
            qualification_validity=validity,
            result_list=entries,
        )

    def _disclosed(self, standing: Standing, asked: Asked, notices: list[str]) -> Disclosed:
        """The entry's part that follows the consents: flags and times, what they open."""
        notices.extend(standing.notices)
        consents = asked.consents
        subsidies = standing.subsidies if consents.subsidies else ()
        if subsidies:  # 公費 by card (the pilot): the 受給者証's information comes along
            notices.append("public-expense-card")
        elif standing.paper_subsidy:
            notices.append("public-expense-paper")
        if consents.limit:
            notices.extend(standing.limit_notices)
        given = asked.stamp
        available = None
        if consents.medication or consents.checkup or consents.operation:
            # the consent itself is the key to the shared records (24 h, this facility)
            until = asked.consented_until or self.state.record_consents(
                standing.person_id, asked.facility, consents
            )
            available = stamp(dt.datetime.fromtimestamp(until, JST))
        limit = consents.limit
        return Disclosed(
            # 照会番号: the clinic's own patient id, where it registered one for this person
            reference_number=self.state.reference_number(standing.person_id, asked.facility),
            qualification_confirmation_key=(secrets.token_hex(16).upper() if asked.keyed else None),
            limit_application_certificate_related_cons_flg=_flag(limit),
            limit_application_certificate_related_cons_time=given if limit else None,
            limit_application_certificate_related_info=standing.limit if limit else None,
            specific_diseases_certificate_related_cons_flg=_flag(limit),
            specific_diseases_certificate_related_cons_time=given if limit else None,
            specific_diseases_certificate_list=(standing.diseases or None) if limit else None,
            medical_subsidy_list=subsidies or None,
            specific_health_checkups_info_cons_flg=_flag(consents.checkup),
            specific_health_checkups_info_cons_time=given if consents.checkup else None,
            specific_health_checkups_info_available_time=available if consents.checkup else None,
            pharmacists_info_cons_flg=_flag(consents.medication),
            pharmacists_info_cons_time=given if consents.medication else None,
            pharmacists_info_available_time=available if consents.medication else None,
            diagnosis_info_cons_flg=_flag(consents.medication),
            diagnosis_info_cons_time=given if consents.medication else None,
            diagnosis_info_available_time=available if consents.medication else None,
            operation_info_cons_flg=_flag(consents.operation),
            operation_info_cons_time=given if consents.operation else None,
            operation_info_available_time=available if consents.operation else None,
            prescription_issue_select=asked.prescription,
        )


def _flag(given: bool) -> str:
    return "1" if given else "0"


def _sorted(notices: list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(notices)))
