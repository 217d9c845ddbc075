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
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mock_oqs import registry
from mock_oqs.pki import FacilityCa
from mock_oqs.records import CLINIC, seed_records
from mock_oqs.registry import Insurer, Person, Qualification
from mock_oqs.rules import insurer_check_digit, late_elderly_from
from reader.files import write_private
from reader.terminal_auth import issue_terminal_certificate
from reader.virtual.keys import MockJpkiCa, SeededStream
from reader.virtual.profile import Variant, new_profile, save_profile
from reader.virtual.world import FACE_AUTH_FILE as FACE_AUTH_FILE
from reader.virtual.world import WORLD_FORMAT as WORLD_FORMAT
from reader.virtual.world import WorldError as WorldError
from reader.virtual.world import WorldFiles

INSTITUTION_CODE = "1312345678"


def _with_check_digit(body: str) -> str:
    return body + str(insurer_check_digit(body))


INSURERS = [
    Insurer(_with_check_digit("0113001"), "全国健康保険協会 東京支部", "kyokai"),
    Insurer(_with_check_digit("0127001"), "全国健康保険協会 大阪支部", "kyokai"),
    Insurer(_with_check_digit("0613123"), "みなと商事健康保険組合", "kumiai"),
    Insurer(_with_check_digit("3113001"), "東京都職員共済組合", "kyosai"),
    Insurer(_with_check_digit("13801"), "千代田区国民健康保険", "kokuho"),
    Insurer(_with_check_digit("3913001"), "東京都後期高齢者医療広域連合", "koki"),
    # 医療扶助: 法別 12 (生活保護), the 福祉事務所's 公費負担者番号
    Insurer(_with_check_digit("1213601"), "千代田区福祉事務所", "seikatsu-hogo"),
]
KYOKAI, KYOKAI_OSAKA, KUMIAI, KYOSAI, KOKUHO, KOKI, FUKUSHI = (i.insurer_number for i in INSURERS)
OTHER_CLINIC = ("1319876543", "ほしぞら内科医院")  # a 指定医療機関 that is not ours

FAMILY_NAMES = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
]
GIVEN_NAMES = [
    ("太郎", "タロウ", "1"),
    ("花子", "ハナコ", "2"),
    ("健", "ケン", "1"),
    ("結衣", "ユイ", "2"),
    ("翔", "ショウ", "1"),
    ("陽菜", "ヒナ", "2"),
    ("誠", "マコト", "1"),
    ("美咲", "ミサキ", "2"),
    ("大輔", "ダイスケ", "1"),
    ("さくら", "サクラ", "2"),
]
ADDRESSES = [
    ("東京都千代田区霞が関1-2-2", "1008916"),
    ("東京都港区芝公園4-2-8", "1050011"),
    ("大阪府大阪市北区梅田1-1-1", "5300001"),
    ("神奈川県横浜市中区本町6-50-10", "2310005"),
]


@dataclass
class Expectation:
    """What a check-in of this persona should give."""

    outcome: str  # "confirmed" or "fallback"
    methods: list[str]  # methods that work with this card
    validity: str | None = None  # QualificationValidity code
    ratio: str | None = None  # InsuredPartialContributionRatio, e.g. "030"
    notices: list[str] = field(default_factory=list)
    reason: str | None = None  # why a fallback is needed
    pin: str | None = None  # "blocked" or "not-set" when the PIN path cannot work
    number_query: dict[str, str] | None = None  # by-number query: validity expected


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


@dataclass
class _Spec:
    id: str
    description: str
    age_days: int
    quals: list[dict[str, Any]]
    expect: Expectation
    variant: Variant = Variant.PHYSICAL
    certificate: str = "linked"  # linked, none, revoked
    cert_expires: dt.date | None = None
    tries_left: int = 3
    public_expense: str | None = None
    reissued_days_ago: int | None = None  # a new card: the previous one's certificate revoked
    medical_ticket: tuple[str, str] | None = None  # 医療扶助: the 指定医療機関 (code, name)
    subsidy: tuple[str, str, int | None] | None = None  # 公費 by card: 法別+実施機関, name, cap
    # lives as the other sex ("1"/"2"): a 通称名 reported to the insurer, and the card's
    # sex as the insurer's 性別表記 handling prints it (NameOfOther, Sex2; mock_oqs/format.py)
    lives_as: str | None = None


def _years(years: int, days: int = 0) -> int:
    return int(years * 365.2425) + days


def persona_ids(today: dt.date | None = None) -> list[str]:
    """The ids of the personas every seeded world has (cheap: no keys are made)."""
    return [spec.id for spec in _specs(today or dt.date.today())]


def _specs(today: dt.date) -> list[_Spec]:
    """The persona set of issue #3 (oqs.md §4–6)."""
    day = dt.timedelta(days=1)
    long_ago = today - 3000 * day
    confirmed = ["pin", "face", "visual"]

    def q(insurer: str, **kw: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "insurer_number": insurer,
            "personal_family": "1",
            "qualification_date": long_ago,
            "registered_on": long_ago,
        }
        base.update(kw)
        return base

    return [
        _Spec(
            "adult-kyokai",
            "成人 本人 3割（協会けんぽ）",
            _years(40),
            [q(KYOKAI)],
            Expectation("confirmed", confirmed, "1", "030"),
        ),
        _Spec(
            "family",
            "家族（被扶養者）3割",
            _years(36),
            [q(KYOKAI, personal_family="2")],
            Expectation("confirmed", confirmed, "1", "030"),
        ),
        _Spec(
            "child-preschool",
            "未就学児 2割",
            _years(4),
            [q(KUMIAI, personal_family="2")],
            Expectation("confirmed", confirmed, "1", "020", ["preschool-ratio"]),
        ),
        _Spec(
            "elderly-70-2wari",
            "70–74歳 2割（高齢受給者）",
            _years(72),
            [q(KUMIAI)],
            Expectation("confirmed", confirmed, "1", "020", ["elderly-recipient"]),
        ),
        _Spec(
            "elderly-70-active",
            "70–74歳 現役並み所得 3割",
            _years(73),
            [q(KUMIAI, active_income=True)],
            Expectation("confirmed", confirmed, "1", "030", ["elderly-recipient"]),
        ),
        _Spec(
            "late-elderly-1wari",
            "75歳以上 後期高齢者 1割",
            _years(81),
            [q(KOKI, ratio_percent=10)],
            Expectation("confirmed", confirmed, "1", "010"),
        ),
        _Spec(
            "late-elderly-2wari",
            "75歳以上 後期高齢者 2割",
            _years(77),
            [q(KOKI, ratio_percent=20)],
            Expectation("confirmed", confirmed, "1", "020"),
        ),
        _Spec(
            "kokuho",
            "国民健康保険（6桁の保険者番号）",
            _years(52),
            [q(KOKUHO)],
            Expectation("confirmed", confirmed, "1", "030"),
        ),
        _Spec(
            "limit-u",
            "限度額適用 区分ウ",
            _years(45),
            [q(KYOSAI, limit_certificate_class="01", limit_application_class="A03")],
            Expectation("confirmed", confirmed, "1", "030", ["limit-A03"]),
        ),
        _Spec(
            "dialysis",
            "特定疾病（人工透析）",
            _years(61),
            [q(KYOKAI, specific_disease="1")],
            Expectation("confirmed", confirmed, "1", "030", ["specific-disease-1"]),
        ),
        _Spec(
            "cert-grace",
            "電子証明書の有効期限切れ（猶予期間内）",
            _years(48),
            [q(KYOKAI)],
            Expectation("confirmed", confirmed, "1", "030", ["certificate-grace"]),
            cert_expires=today - 40 * day,
        ),
        _Spec(
            "cert-lapsed",
            "電子証明書の有効期限切れ（猶予期間後）",
            _years(55),
            [q(KYOKAI)],
            Expectation("fallback", confirmed, reason="certificate-lapsed"),
            cert_expires=today - 150 * day,
        ),
        _Spec(
            "cert-renewal-due",
            "電子証明書の有効期限が3か月以内",
            _years(30),
            [q(KYOKAI)],
            Expectation("confirmed", confirmed, "1", "030", ["certificate-renewal-due"]),
            cert_expires=today + 60 * day,
        ),
        _Spec(
            "revoked",
            "電子証明書が失効済み",
            _years(42),
            [q(KYOKAI)],
            Expectation("fallback", confirmed, reason="certificate-revoked"),
            certificate="revoked",
        ),
        _Spec(
            "not-registered",
            "保険証利用登録なし",
            _years(33),
            [q(KYOKAI)],
            Expectation("fallback", confirmed, reason="not-registered"),
            certificate="none",
        ),
        _Spec(
            "new-employee",
            "転職直後（登録前のタイムラグ）",
            _years(27),
            [q(KUMIAI, qualification_date=today - 3 * day, registered_on=today + 5 * day)],
            Expectation("fallback", confirmed, "4", reason="no-qualification"),
        ),
        _Spec(
            "lost",
            "資格喪失（無効）",
            _years(38),
            [q(KYOKAI, disqualification_date=today - 30 * day, reason_of_loss="99")],
            Expectation("fallback", confirmed, "2", reason="invalid"),
        ),
        _Spec(
            "lost-newer",
            "旧資格喪失・新資格あり",
            _years(39),
            [
                q(KYOKAI_OSAKA, disqualification_date=today - 60 * day, reason_of_loss="03"),
                q(KUMIAI, qualification_date=today - 59 * day, registered_on=today - 50 * day),
            ],
            Expectation("confirmed", confirmed, "1", "030", number_query={"old": "3", "new": "1"}),
        ),
        _Spec(
            "multiple",
            "複数の有効な資格（複数該当）",
            _years(44),
            [q(KYOKAI), q(KYOSAI)],
            Expectation("fallback", confirmed, "5", reason="multiple"),
        ),
        _Spec(
            "pin-blocked",
            "暗証番号ロック（顔認証・目視は可）",
            _years(58),
            [q(KYOKAI)],
            Expectation("confirmed", ["face", "visual"], "1", "030", pin="blocked"),
            tries_left=0,
        ),
        _Spec(
            "face-only",
            "顔認証マイナンバーカード（暗証番号なし）",
            _years(86),
            [q(KOKI, ratio_percent=10)],
            Expectation("confirmed", ["face", "visual"], "1", "010", pin="not-set"),
            variant=Variant.FACE_ONLY,
        ),
        # smartphones: the PIN on the reader (Android) or on the phone (iPhone); no face
        # object for the reader to compare and no photo for staff to check by eye
        _Spec(
            "android",
            "スマートフォン（Android）",
            _years(29),
            [q(KYOKAI)],
            Expectation("confirmed", ["pin"], "1", "030"),
            variant=Variant.ANDROID,
        ),
        _Spec(
            "iphone",
            "スマートフォン（iPhone）",
            _years(31),
            [q(KYOKAI)],
            Expectation("confirmed", ["pin"], "1", "030"),
            variant=Variant.IPHONE,
        ),
        _Spec(
            "public-expense",
            "公費負担医療の受給者（紙の受給者証も必要）",
            _years(50),
            [q(KYOKAI)],
            Expectation("confirmed", confirmed, "1", "030", ["public-expense-paper"]),
            public_expense="指定難病 医療受給者証",
        ),
        _Spec(
            "reissued",
            "カード再発行（新しい電子証明書・同じ本人。旧カードは失効）",
            _years(34),
            [q(KYOKAI)],
            Expectation("confirmed", confirmed, "1", "030"),
            reissued_days_ago=20,
        ),
        # 医療扶助 by card (since 2024-03): a 生活保護 recipient whose 医療券 entrusts this
        # clinic, and one whose 医療券 names another clinic (the result says so)
        _Spec(
            "medical-aid",
            "医療扶助（生活保護）・当院が指定医療機関",
            _years(58),
            [q(FUKUSHI, card_classification="A1", number="1234567")],
            Expectation("confirmed", confirmed, "1", "000", ["medical-aid"]),
            medical_ticket=(INSTITUTION_CODE, CLINIC),
        ),
        _Spec(
            "medical-aid-elsewhere",
            "医療扶助（生活保護）・指定医療機関は他院（未委託）",
            _years(63),
            [q(FUKUSHI, card_classification="A1", number="7654321")],
            Expectation(
                "confirmed", confirmed, "1", "000", ["medical-aid", "medical-aid-not-designated"]
            ),
            medical_ticket=OTHER_CLINIC,
        ),
        # 公費 by card where the pilot runs (PMH): the municipality registered the 受給者証;
        # elsewhere (the clinic's setting off) the paper certificate is still needed
        _Spec(
            "kodomo-iryo",
            "子ども医療費の受給者（公費を実証事業の地域ではカードで）",
            _years(8),
            [q(KYOKAI, personal_family="2")],
            Expectation("confirmed", confirmed, "1", "030", ["public-expense-paper"]),
            public_expense="子ども医療費受給者証",
            subsidy=("8813601", "子ども医療費受給者証", 0),
        ),
        _Spec(
            "nanbyo",
            "指定難病の受給者（公費を実証事業の地域ではカードで）",
            _years(47),
            [q(KUMIAI)],
            Expectation("confirmed", confirmed, "1", "030", ["public-expense-paper"]),
            public_expense="特定医療費（指定難病）受給者証",
            subsidy=("5413601", "特定医療費（指定難病）受給者証", 10000),
        ),
        # a 資格確認書 holder (no 保険証利用登録): valid for 30 more days, then it lapses
        _Spec(
            "kakunin-expiring",
            "資格確認書（有効期限まで30日・保険証利用登録なし）",
            _years(46),
            [q(KOKUHO, issued_on=today - 335 * day, expires_on=today + 30 * day)],
            Expectation(
                "fallback", confirmed, reason="not-registered", number_query={"current": "1"}
            ),
            certificate="none",
        ),
        # a 通称名 reported to the insurer and the card's sex printed as the person lives
        # (事務連絡 on 被保険者証の性別表記 2012 and 氏名表記 2017): the result names both
        _Spec(
            "tsushomei",
            "通称名を届出（券面の性別表記も本人の申出どおり）",
            _years(35),
            [q(KYOKAI)],
            Expectation("confirmed", confirmed, "1", "030"),
            lives_as="2",
        ),
    ]


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
    out: Path, *, seed: int = 1, extra_persons: int = 0, today: dt.date | None = None
) -> World:
    """Make a world in ``out`` (which must not exist or be empty)."""
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
        for number, spec in enumerate(_specs(today), start=1):
            entries.append(
                _seed_persona(conn, out, spec, number, rng, stream, jpki_ca, today, terminal_ca_key)
            )
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
    }
    (out / "registry.sqlite").chmod(0o600)
    write_private(
        out / "world.json", (json.dumps(index, ensure_ascii=False, indent=2) + "\n").encode()
    )
    return World(out, index)


def _seed_persona(
    conn: sqlite3.Connection,
    out: Path,
    spec: _Spec,
    number: int,
    rng: random.Random,
    stream: SeededStream,
    ca: MockJpkiCa,
    today: dt.date,
    terminal_ca_key: str,
) -> PersonaEntry:
    person_id = f"P{number:06d}"
    birth = today - dt.timedelta(days=spec.age_days)
    if spec.cert_expires is not None:
        # a certificate ends on the holder's birthday, the 5th after issue (card.md §2)
        birth = _on_birthday(spec.cert_expires, birth.year)
    other: tuple[str, str] | None = None
    if spec.lives_as is None:
        name, kana, sex = _person_name(rng)
    else:
        name, kana, sex = _person_name(rng, "2" if spec.lives_as == "1" else "1")
        given, given_kana, _ = rng.choice([g for g in GIVEN_NAMES if g[2] == spec.lives_as])
        other = (f"{name.split(' ')[0]} {given}", f"{kana.split(' ')[0]} {given_kana}")
    family = name.split(" ")[0]
    address, post = rng.choice(ADDRESSES)
    registry.add_person(
        conn,
        Person(
            person_id,
            spec.id,
            name,
            kana,
            sex,
            birth,
            address,
            post,
            spec.public_expense,
            name_of_other=other[0] if other else None,
            name_of_other_kana=other[1] if other else None,
            sex2=spec.lives_as,
        ),
    )
    history = random.Random(int.from_bytes(stream.child(f"records-{spec.id}")(8), "big"))
    seed_records(conn, person_id, spec.id, birth, today, history)
    if spec.medical_ticket is not None:
        _medical_ticket(conn, person_id, spec.medical_ticket, today, history)
    if spec.subsidy is not None:
        body, certificate_name, cap = spec.subsidy
        conn.execute(
            "INSERT INTO medical_subsidies VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                person_id,
                _with_check_digit(body),
                f"{history.randrange(10**6, 10**7)}",
                certificate_name,
                (today - dt.timedelta(days=120)).isoformat(),
                (today + dt.timedelta(days=245)).isoformat(),
                cap,
                "0",
            ),
        )
    numbers: dict[str, str] = {}
    for i, qual in enumerate(_aged(spec.quals, birth, person_id)):
        symbol = f"{rng.randrange(1000, 99999)}" if "number" not in qual else ""
        ident = qual.pop("number", None) or f"{rng.randrange(1, 9_999_999)}"
        branch = "00" if qual["personal_family"] == "1" else "01"
        if qual["insurer_number"] == KOKI:  # 後期: an 8-digit 被保険者番号, no 記号 or 枝番
            symbol, ident, branch = "", ident.zfill(8), ""
        if qual.get("card_classification") == "A1":  # 医療扶助: 7-digit 受給者番号 alone
            symbol, ident, branch = "", ident.zfill(7), ""
        registry.add_qualification(
            conn,
            Qualification(
                person_id=person_id,
                symbol=symbol,
                number=ident,
                branch=branch,
                # 被保険者: a dependant's is the insured family member, not the patient
                insured_name=name if qual["personal_family"] == "1" else f"{family} 健一",
                card_classification=qual.pop("card_classification", "01"),
                **_certificate_dates(qual, today),
            ),
        )
        if i >= len(spec.quals):
            continue  # the insurers' plan for the 75th birthday, not today's numbers
        if i == len(spec.quals) - 1 or i == 0:
            key = "old" if i == 0 and len(spec.quals) > 1 else "current"
            numbers[f"{key}_insurer_number"] = qual["insurer_number"]
            numbers[f"{key}_symbol"] = symbol
            numbers[f"{key}_number"] = ident
            numbers[f"{key}_branch"] = branch

    if spec.cert_expires is not None:
        fifth_before = _on_birthday(spec.cert_expires, spec.cert_expires.year - 5)
        issued = fifth_before + dt.timedelta(days=10)
    elif spec.reissued_days_ago is not None:
        issued = today - dt.timedelta(days=spec.reissued_days_ago)
    else:  # recent enough that the 5th birthday after issue is years away
        issued = today - dt.timedelta(days=200)
    profile, _ = new_profile(
        variant=spec.variant,
        seed=int.from_bytes(stream.child(f"card-{spec.id}")(8), "big"),
        ca=ca,
        birth_date=birth,
        issued=issued,
        tries_left=spec.tries_left,
        expires=spec.cert_expires,
        # smartphones have no card-face AP to read at a face-recognition reader
        terminal_ca_key=None if spec.variant.is_smartphone else terminal_ca_key,
    )
    card_path = out / "cards" / f"{spec.id}.json"
    save_profile(profile, card_path)
    previous = None
    if spec.reissued_days_ago is not None:
        previous = _seed_previous_card(
            conn, out, spec, person_id, birth, stream, ca, today, terminal_ca_key
        )
    cert = profile.certificate()
    _link(conn, cert, person_id, None if spec.certificate == "none" else issued)
    if spec.certificate == "revoked":
        registry.revoke_certificate(
            conn, person_id, dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
        )
    return PersonaEntry(
        id=spec.id,
        description=spec.description,
        person_id=person_id,
        variant=spec.variant.value,
        pin=profile.auth_pin.pin,
        card=f"cards/{spec.id}.json",
        birth_date=birth.isoformat(),
        numbers=numbers,
        expect=spec.expect,
        name=name,
        name_kana=kana,
        previous_card=previous,
        name_of_other=other[0] if other else None,
        name_of_other_kana=other[1] if other else None,
        sex2=spec.lives_as,
    )


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


def _seed_previous_card(
    conn: sqlite3.Connection,
    out: Path,
    spec: _Spec,
    person_id: str,
    birth: dt.date,
    stream: SeededStream,
    ca: MockJpkiCa,
    today: dt.date,
    terminal_ca_key: str,
) -> str:
    """The card a reissue replaced: linked to the same person, its certificate revoked on
    the day of the reissue (a lost or broken card is revoked when the new one is issued)."""
    assert spec.reissued_days_ago is not None
    profile, _ = new_profile(
        variant=spec.variant,
        seed=int.from_bytes(stream.child(f"card-{spec.id}-previous")(8), "big"),
        ca=ca,
        birth_date=birth,
        issued=today - dt.timedelta(days=900),
        terminal_ca_key=terminal_ca_key,
    )
    name = f"cards/{spec.id}-previous.json"
    save_profile(profile, out / name)
    cert = profile.certificate()
    _link(conn, cert, person_id, today - dt.timedelta(days=900))
    reissued = today - dt.timedelta(days=spec.reissued_days_ago)
    registry.revoke_serial(
        conn, cert.serial_number, dt.datetime.combine(reissued, dt.time(), tzinfo=dt.UTC)
    )
    return name


def _on_birthday(day: dt.date, year: int) -> dt.date:
    """``day``'s month and day in ``year`` (29 February: 1 March in a common year)."""
    try:
        return day.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)


def _medical_ticket(
    conn: sqlite3.Connection,
    person_id: str,
    institution: tuple[str, str],
    today: dt.date,
    rng: random.Random,
) -> None:
    """This month's 医療券 of a 医療扶助 recipient, and its 調剤券 for the pharmacy (the
    福祉事務所 registers them around the 15th; the seeded world has them already)."""
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    for ticket_type, code, name in (
        ("1", *institution),
        ("2", "1349876540", "みなと調剤薬局"),
    ):
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


def _aged(quals: list[dict[str, Any]], birth: dt.date, person_id: str) -> list[dict[str, Any]]:
    """The qualifications as the insurers have them, the 75th birthday included: there the
    open qualification of any other insurer ends (喪失, 事由 03) and 後期高齢者医療 starts,
    1割 — or 3割 for a 現役並み earner, who stays 3割 — registered two weeks before."""
    quals = [dict(q) for q in quals]
    if all(q.get("card_classification") == "A1" for q in quals):
        return quals  # 医療扶助 is the 福祉事務所's: no insurer's plan for 75
    open_ = [
        q for q in quals if q["insurer_number"] != KOKI and q.get("disqualification_date") is None
    ]
    if not open_ or any(q["insurer_number"] == KOKI for q in quals):
        return quals
    turning = late_elderly_from(birth)
    for qual in open_:
        qual["disqualification_date"] = turning
        qual["reason_of_loss"] = "03"
    active = any(q.get("active_income") for q in open_)
    quals.append(
        {
            "insurer_number": KOKI,
            "personal_family": "1",
            "qualification_date": turning,
            "registered_on": turning - dt.timedelta(days=14),
            "ratio_percent": 30 if active else 10,
            "active_income": active,
            "number": f"{int(person_id[1:]):08d}",
        }
    )
    return quals


def _certificate_dates(qual: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """A 限度額適用認定証 runs from 1 August to 31 July (the insurers' income year); a
    特定疾病療養受療証 from the qualification, without an end, 10,000 yen a month."""
    qual = dict(qual)
    if qual.get("limit_application_class") and "limit_from" not in qual:
        year = today.year if today >= dt.date(today.year, 8, 1) else today.year - 1
        qual["limit_from"] = dt.date(year, 8, 1)
        qual["limit_until"] = dt.date(year + 1, 7, 31)
    if qual.get("specific_disease") and "specific_disease_from" not in qual:
        qual["specific_disease_from"] = qual["qualification_date"]
        qual.setdefault("specific_disease_self_pay", 10_000)
    return qual


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
