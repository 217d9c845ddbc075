"""A whole, consistent test world, made deterministically from a seed.

``seed_world`` writes into one directory:

- ``jpki-ca/``: the mock JPKI user-authentication CA (cert.pem, key.pem);
- ``facility-ca/``, ``server/``, ``terminal/``: the facility PKI; the terminal's
  subject carries its 10-digit 医療機関コード;
- ``registry.sqlite``: insurers, persons, qualification history, certificate links …;
- ``cards/<persona>.json``: one virtual card profile per persona;
- ``world.json``: the index — each persona's id, description, PIN, card and the
  outcome a check-in should give.

Dates are relative to ``today`` (the seeding day by default), so that "expired
40 days ago" stays true of the world when it is made; the index records the day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mock_oqs import deregistration, kakunin, registry
from mock_oqs.other_cards import seed_other_cards
from mock_oqs.period_cases import month_of, seed_promise
from mock_oqs.persona_days import (
    aged,
    days_from,
    held_on,
    printed_on_old_card,
    with_certificate_dates,
)
from mock_oqs.personas import (
    ADDRESSES,
    INSTITUTION_CODE,
    INSURERS,
    KOKI,
    KOKUHO,
    KUMIAI,
    KYOKAI,
    KYOKAI_OSAKA,
    KYOSAI,
    PERSONAS,
    Expectation,
    Persona,
    _with_check_digit,
    _years,
)
from mock_oqs.personas import FAMILY_NAMES as FAMILY_NAMES  # bench-tui draws from them
from mock_oqs.personas import GIVEN_NAMES as GIVEN_NAMES
from mock_oqs.pki import FacilityCa
from mock_oqs.records import seed_records
from mock_oqs.registry import Person
from mock_oqs.rules import late_elderly_from
from reader.files import write_private
from reader.terminal_auth import issue_terminal_certificate
from reader.virtual.keys import MockJpkiCa, SeededStream
from reader.virtual.profile import new_profile, save_profile
from reader.virtual.world import FACE_AUTH_FILE as FACE_AUTH_FILE
from reader.virtual.world import WORLD_FORMAT as WORLD_FORMAT
from reader.virtual.world import WorldError as WorldError
from reader.virtual.world import WorldFiles


@dataclass
class PersonaEntry:
    id: str
    description: str
    person_id: str
    variant: str
    pin: str | None
    card: str
    birth_date: str
    numbers: dict[str, str]
    expect: Expectation
    name: str = ""  # as the registry has it (family and given name, ASCII space)
    name_kana: str = ""
    previous_card: str | None = None  # a reissued card's predecessor (its certificate revoked)
    name_of_other: str | None = None  # 通称名 (as name)
    name_of_other_kana: str | None = None
    sex2: str | None = None  # the card's sex where it differs


def persona_ids(today: dt.date | None = None) -> list[str]:
    """The ids of the personas every seeded world has (cheap: no keys are made; the set
    does not depend on the day)."""
    return [persona.id for persona in PERSONAS]


class World(WorldFiles):
    """A world as the service and its tools use it (the files: reader/virtual/world.py)."""

    @classmethod
    def load(cls, directory: Path) -> World:
        return cls.open(directory)


def _person_name(rng: random.Random, sex: str | None = None) -> tuple[str, str, str]:
    family, family_kana = rng.choice(FAMILY_NAMES)
    choices = [g for g in GIVEN_NAMES if sex is None or g[2] == sex]
    given, given_kana, given_sex = rng.choice(choices)
    return f"{family} {given}", f"{family_kana} {given_kana}", given_sex


def seed_world(
    out: Path,
    *,
    seed: int = 1,
    extra_persons: int = 0,
    today: dt.date | None = None,
    generated: Sequence[tuple[str, str]] = (),
) -> World:
    """Make a world in ``out`` (which must not exist or be empty); ``generated``: (id,
    persona) of more persons with cards, each of their own in the persona's situation."""
    templates = _generated(generated)
    if out.exists() and any(out.iterdir()):
        raise WorldError(f"{out} is not empty; choose a new directory")
    if extra_persons < 0:
        raise WorldError("--extra-persons must be 0 or more")
    today = today or dt.date.today()
    stream = SeededStream(seed, "world")
    rng = random.Random(f"{seed}:persons")
    start = dt.datetime.combine(today - dt.timedelta(days=365), dt.time(), tzinfo=dt.UTC)
    # 0700: the world holds every persona's PIN (world.json), CA keys and the registry
    fresh = not out.exists()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not fresh and out.stat().st_mode & 0o077 and out.stat().st_uid == os.getuid():
        out.chmod(0o700)

    jpki_ca = MockJpkiCa.generate(stream.child("jpki-ca"))
    (out / "jpki-ca").mkdir()
    (out / "jpki-ca" / "cert.pem").write_bytes(jpki_ca.certificate_pem())
    write_private(out / "jpki-ca" / "key.pem", jpki_ca.key_pem())
    (out / "jpki-ca" / "key.pem").chmod(0o600)
    facility = FacilityCa.generate(stream.child("facility"), not_before=start)
    facility.write(out / "facility-ca")
    facility.issue_server(
        stream.child("server"), not_before=start, hosts=["localhost", "127.0.0.1", "::1"]
    ).write(out / "server")
    terminal = facility.issue_terminal(
        stream.child("terminal"), not_before=start, institution_code=INSTITUTION_CODE
    )
    terminal.write(out / "terminal")
    # the terminal's card-verifiable certificate for the simulated face path
    (out / "terminal" / FACE_AUTH_FILE).write_bytes(
        issue_terminal_certificate(
            facility.key, terminal.key.public_key(), INSTITUTION_CODE
        ).encode()
    )
    terminal_ca_key = (
        facility.key.public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        .hex()
        .upper()
    )

    conn = registry.create(out / "registry.sqlite")
    entries: list[PersonaEntry] = []
    (out / "cards").mkdir()
    with registry.transaction(conn):
        for insurer in INSURERS:
            registry.add_insurer(conn, insurer)
        seeding = _Seeding(conn, out, rng, stream, jpki_ca, today, terminal_ca_key)
        for number, persona in enumerate((*PERSONAS, *templates), start=1):
            entries.append(_seed_persona(seeding, persona, number))
    if extra_persons:
        _seed_extra(conn, extra_persons, rng, today)
    conn.execute("ANALYZE")
    conn.close()

    index = {
        "format": WORLD_FORMAT,
        "seed": seed,
        "today": today.isoformat(),
        "institution_code": INSTITUTION_CODE,
        "extra_persons": extra_persons,
        "personas": [asdict(e) for e in entries],
        "other_cards": seed_other_cards(out),  # not My Number cards: their screens
    }
    (out / "registry.sqlite").chmod(0o600)
    write_private(
        out / "world.json", (json.dumps(index, ensure_ascii=False, indent=2) + "\n").encode()
    )
    return World(out, index)


def _generated(generated: Sequence[tuple[str, str]]) -> list[Persona]:
    by_id = {p.id: p for p in PERSONAS}
    made: list[Persona] = []
    for new_id, template in generated:
        if template not in by_id:
            raise WorldError(f"--generate {new_id}={template}: no persona {template!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,59}", new_id):
            raise WorldError(f"--generate {new_id}: ids are lower-case letters, digits and -")
        if new_id in by_id or any(p.id == new_id for p in made):
            raise WorldError(f"--generate {new_id}: the id is taken")
        made.append(
            replace(
                by_id[template],
                id=new_id,
                description=f"{by_id[template].description}（{template} から生成）",
            )
        )
    return made


@dataclass(frozen=True, slots=True)
class _Seeding:
    """What every persona of one world is made with."""

    conn: sqlite3.Connection
    out: Path
    rng: random.Random
    stream: SeededStream
    ca: MockJpkiCa
    today: dt.date
    terminal_ca_key: str


@dataclass(frozen=True, slots=True)
class _Named:
    """A persona's names as the registry has them (family and given name, ASCII space)."""

    name: str
    kana: str
    sex: str
    other: tuple[str, str] | None  # 通称名 and its reading


def _seed_persona(seeding: _Seeding, persona: Persona, number: int) -> PersonaEntry:
    person_id = f"P{number:06d}"
    today = seeding.today
    birth = today - dt.timedelta(days=persona.age_days)
    if persona.turns is not None:
        birth = born_turning(today, *persona.turns)
    expires = days_from(today, persona.cert_expires)
    if expires is not None:
        # a certificate ends on the holder's birthday, the 5th after issue (card.md §2)
        birth = _on_birthday(expires, birth.year)
    named = _seed_person(seeding, persona, person_id, birth)
    numbers = _seed_qualifications(seeding, persona, person_id, birth, named)
    card, previous = _seed_card(seeding, persona, person_id, birth, expires)
    held = kakunin.promised(seeding.conn, person_id, today)  # the 資格確認書 of the day
    return PersonaEntry(
        id=persona.id,
        description=persona.description,
        person_id=person_id,
        variant=persona.variant.value,
        pin=card,
        card=f"cards/{persona.id}.json",
        birth_date=birth.isoformat(),
        numbers=numbers,
        expect=replace(printed_on_old_card(persona.expect, numbers), kakunin=held),
        name=named.name,
        name_kana=named.kana,
        previous_card=previous,
        name_of_other=named.other[0] if named.other else None,
        name_of_other_kana=named.other[1] if named.other else None,
        sex2=persona.lives_as,
    )


def _seed_person(seeding: _Seeding, persona: Persona, person_id: str, birth: dt.date) -> _Named:
    """The person, their records and 医療扶助 / 医療費助成 where the persona has them."""
    rng, today = seeding.rng, seeding.today
    other: tuple[str, str] | None = None
    if persona.lives_as is None:
        name, kana, sex = _person_name(rng)
    else:
        name, kana, sex = _person_name(rng, "2" if persona.lives_as == "1" else "1")
        given, given_kana, _ = rng.choice([g for g in GIVEN_NAMES if g[2] == persona.lives_as])
        other = (f"{name.split(' ')[0]} {given}", f"{kana.split(' ')[0]} {given_kana}")
    address, post = rng.choice(ADDRESSES)
    registry.add_person(
        seeding.conn,
        Person(
            person_id,
            persona.id,
            name,
            kana,
            sex,
            birth,
            address,
            post,
            persona.public_expense,
            name_of_other=other[0] if other else None,
            name_of_other_kana=other[1] if other else None,
            sex2=persona.lives_as,
        ),
    )
    history = random.Random(int.from_bytes(seeding.stream.child(f"records-{persona.id}")(8), "big"))
    seed_records(seeding.conn, person_id, persona.id, birth, today, history)
    period = persona.expect.period or {}
    if persona.medical_ticket is not None:
        months = period.get("aid", [0])
        _medical_ticket(seeding.conn, person_id, persona.medical_ticket, today, history, months)
    if period:  # what the bulk kinds by period list at this clinic
        seed_promise(seeding.conn, person_id, period, today, INSTITUTION_CODE)
    if persona.subsidy is not None:
        _subsidy(seeding.conn, person_id, persona.subsidy, today, history)
    return _Named(name, kana, sex, other)


def _subsidy(
    conn: sqlite3.Connection,
    person_id: str,
    subsidy: tuple[str, str, int | None],
    today: dt.date,
    rng: random.Random,
) -> None:
    """A 医療費助成 受給者証 the municipality registered for use by card (the pilot)."""
    body, certificate_name, cap = subsidy
    conn.execute(
        "INSERT INTO medical_subsidies VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            person_id,
            _with_check_digit(body),
            f"{rng.randrange(10**6, 10**7)}",
            certificate_name,
            (today - dt.timedelta(days=120)).isoformat(),
            (today + dt.timedelta(days=245)).isoformat(),
            cap,
            "0",
        ),
    )


def _seed_qualifications(
    seeding: _Seeding, persona: Persona, person_id: str, birth: dt.date, named: _Named
) -> dict[str, str]:
    """The persona's qualifications (and the insurers' plan for the 75th birthday); the
    numbers of the first and the last, as ``world.json`` keeps them."""
    rng = seeding.rng
    family = named.name.split(" ")[0]
    numbers: dict[str, str] = {}
    covers = [held_on(cover, seeding.today) for cover in persona.covers]
    for i, held in enumerate(aged(covers, birth, person_id)):
        symbol = f"{rng.randrange(1000, 99999)}" if held.number is None else ""
        ident = held.number or f"{rng.randrange(1, 9_999_999)}"
        branch = "00" if held.personal_family == "1" else "01"
        if held.insurer_number == KOKI:  # 後期: an 8-digit 被保険者番号, no 記号 or 枝番
            symbol, ident, branch = "", ident.zfill(8), ""
        if held.card_classification == "A1":  # 医療扶助: 7-digit 受給者番号 alone
            symbol, ident, branch = "", ident.zfill(7), ""
        # 被保険者: a dependant's is the insured family member, not the patient
        insured = named.name if held.personal_family == "1" else f"{family} 健一"
        registry.add_qualification(
            seeding.conn,
            kakunin.seeded(
                with_certificate_dates(held, seeding.today), seeding.today, persona.certificate
            ).qualification(person_id, symbol, ident, branch, insured),
        )
        if i >= len(persona.covers):
            continue  # the insurers' plan for the 75th birthday, not today's numbers
        if i == len(persona.covers) - 1 or i == 0:
            key = "old" if i == 0 and len(persona.covers) > 1 else "current"
            numbers[f"{key}_insurer_number"] = held.insurer_number
            numbers[f"{key}_symbol"] = symbol
            numbers[f"{key}_number"] = ident
            numbers[f"{key}_branch"] = branch
    return numbers


def _seed_card(
    seeding: _Seeding, persona: Persona, person_id: str, birth: dt.date, expires: dt.date | None
) -> tuple[str | None, str | None]:
    """The persona's card (and a reissued card's predecessor), linked in the registry;
    the card's PIN and the predecessor's file."""
    today = seeding.today
    if expires is not None:
        fifth_before = _on_birthday(expires, expires.year - 5)
        issued = fifth_before + dt.timedelta(days=10)
    elif persona.reissued_days_ago is not None:
        issued = today - dt.timedelta(days=persona.reissued_days_ago)
    else:  # recent enough that the 5th birthday after issue is years away
        issued = today - dt.timedelta(days=200)
    profile, _ = new_profile(
        variant=persona.variant,
        seed=int.from_bytes(seeding.stream.child(f"card-{persona.id}")(8), "big"),
        ca=seeding.ca,
        birth_date=birth,
        issued=issued,
        tries_left=persona.tries_left,
        expires=expires,
        # smartphones have no card-face AP to read at a face-recognition reader
        terminal_ca_key=None if persona.variant.is_smartphone else seeding.terminal_ca_key,
    )
    save_profile(profile, seeding.out / "cards" / f"{persona.id}.json")
    previous = None
    if persona.reissued_days_ago is not None:
        previous = _seed_previous_card(seeding, persona, person_id, birth)
    _link(
        seeding.conn,
        profile.certificate(),
        person_id,
        None if persona.certificate in kakunin.UNREGISTERED else issued,
    )
    if persona.certificate == "deregistered":  # 利用登録解除: the day is kept
        cancelled = today - dt.timedelta(days=deregistration.CANCELLED_DAYS_AGO)
        deregistration.record(seeding.conn, person_id, cancelled)
    if persona.certificate == "revoked":
        registry.revoke_certificate(
            seeding.conn, person_id, dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
        )
    return profile.auth_pin.pin, previous


def _link(
    conn: sqlite3.Connection, cert: x509.Certificate, person_id: str, registered: dt.date | None
) -> None:
    """The card's certificate and its holder in the registry; ``registered``: the day of
    its 保険証利用登録 (None: not registered)."""
    registry.link_certificate(
        conn,
        serial=cert.serial_number,
        person_id=person_id,
        fingerprint=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest().upper(),
        not_after=cert.not_valid_after_utc.date(),
        registered_on=registered,
    )


def _seed_previous_card(seeding: _Seeding, persona: Persona, person_id: str, birth: dt.date) -> str:
    """The card a reissue replaced: linked to the same person, its certificate revoked on
    the day of the reissue (a lost or broken card is revoked when the new one is issued)."""
    assert persona.reissued_days_ago is not None
    today = seeding.today
    profile, _ = new_profile(
        variant=persona.variant,
        seed=int.from_bytes(seeding.stream.child(f"card-{persona.id}-previous")(8), "big"),
        ca=seeding.ca,
        birth_date=birth,
        issued=today - dt.timedelta(days=900),
        terminal_ca_key=seeding.terminal_ca_key,
    )
    name = f"cards/{persona.id}-previous.json"
    save_profile(profile, seeding.out / name)
    cert = profile.certificate()
    _link(seeding.conn, cert, person_id, today - dt.timedelta(days=900))
    reissued = today - dt.timedelta(days=persona.reissued_days_ago)
    registry.revoke_serial(
        seeding.conn, cert.serial_number, dt.datetime.combine(reissued, dt.time(), tzinfo=dt.UTC)
    )
    return name


def born_turning(today: dt.date, age: int, days: int) -> dt.date:
    """A birth date whose ``age``-th birthday falls ``days`` after ``today``; for 29
    February in a common year, 28 February (the birthday a day earlier: already that age)."""
    target = today + dt.timedelta(days=days)
    try:
        return target.replace(year=target.year - age)
    except ValueError:
        return dt.date(target.year - age, 2, 28)


def _on_birthday(day: dt.date, year: int) -> dt.date:
    """``day``'s month and day in ``year`` (29 February: 1 March in a common year)."""
    try:
        return day.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)


PHARMACY = ("1349876540", "みなと調剤薬局")  # the 調剤券's


def _medical_ticket(
    conn: sqlite3.Connection,
    person_id: str,
    institution: tuple[str, str],
    today: dt.date,
    rng: random.Random,
    months: list[int],
) -> None:
    """The 医療券 of a 医療扶助 recipient for each of ``months`` (0: this month), and its
    調剤券 for the pharmacy (the 福祉事務所 registers them around the 15th; the seeded
    world has them already)."""
    for month in months:
        first = month_of(today, month)
        last = month_of(today, month + 1) - dt.timedelta(days=1)
        for ticket_type, code, name in (("1", *institution), ("2", *PHARMACY)):
            conn.execute(
                "INSERT INTO medical_tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    person_id,
                    ticket_type,
                    first.strftime("%Y-%m"),
                    first.isoformat(),
                    last.isoformat(),
                    f"{rng.randrange(10**7, 10**8)}",
                    code,
                    name,
                    "高血圧症",
                    "1",
                    0,
                    "保護 一郎",
                    "医療 花子",
                    "1",
                ),
            )


def _seed_extra(conn: sqlite3.Connection, count: int, rng: random.Random, today: dt.date) -> None:
    """``count`` generated persons with one valid qualification each (no card); those 75
    and over in 後期高齢者医療, the others moving there on their 75th birthday."""
    insurers = [KYOKAI, KYOKAI_OSAKA, KUMIAI, KYOSAI, KOKUHO]
    qualified = today - dt.timedelta(days=800)
    persons: list[tuple[object, ...]] = []
    quals: list[tuple[object, ...]] = []
    for i in range(count):
        person_id = f"X{i:08d}"
        name, kana, sex = _person_name(rng)
        address, post = ADDRESSES[i % len(ADDRESSES)]
        birth = today - dt.timedelta(days=rng.randrange(_years(1), _years(99)))
        persons.append(
            (
                person_id,
                None,
                name,
                kana,
                sex,
                birth.isoformat(),
                address,
                post,
                None,
                None,
                None,
                None,
            )
        )
        number = f"{i:08d}"
        turning = late_elderly_from(birth)
        if turning > qualified:  # another insurer until the 75th birthday
            since = qualified.isoformat()
            quals.append(
                registry.plain_qualification_row(
                    person_id,
                    insurers[i % len(insurers)],
                    f"{10000 + i // 10_000}",
                    number,
                    "00",
                    since,
                    since,
                    lost=turning.isoformat(),
                    reason_of_loss="03",
                )
            )
        koki_from = max(turning, qualified)
        quals.append(
            registry.plain_qualification_row(
                person_id,
                KOKI,
                "",
                number,
                "",
                koki_from.isoformat(),
                (koki_from - dt.timedelta(days=14)).isoformat(),
                ratio_percent=10,
            )
        )
        if len(persons) == 50_000 or i == count - 1:  # in batches: a million fit in memory
            with registry.transaction(conn):
                conn.executemany(
                    "INSERT INTO persons VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", persons
                )
                conn.executemany(registry.QUALIFICATION_INSERT, quals)
            persons.clear()
            quals.clear()
