"""The personas every seeded world has (issue #3; oqs.md §4–6), as typed data.

Each :class:`Persona` is a record: who (age, the card's variant), what the registry
holds of them (:class:`Cover`, one per qualification, its days relative to the world's
reference day), their card's state, and what a check-in of them should give
(:class:`Expectation`, written to ``world.json``). :func:`mock_oqs.world.seed_world`
makes the world from them; its randomness (names, numbers, keys) follows the seed, so a
seed gives the same world byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mock_oqs.records import CLINIC
from mock_oqs.registry import Insurer
from mock_oqs.rules import insurer_check_digit
from reader.virtual.profile import Variant

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
    # what the bulk kinds by period list at this clinic (mock_oqs/period_cases.py): "visit",
    # days (relative to the world's day) of a 居宅同意取得型 consent (OQSmuhvq); "online",
    # days of an オンライン診療, consented on the phone the day before (OQSmuonq); "aid",
    # months (0: the world's) of a 医療券 entrusting this clinic (OQSmutic)
    period: dict[str, list[int]] | None = None
    # an old 保険証 brought after every one expired (reception old-card): the 有効期限 and
    # the numbers printed on it (the numbers filled in when the world is seeded), the
    # interim rule's days, and what the rung gives in them and after
    old_card: dict[str, str] | None = None
    # the 資格確認書 held on the world's day (insurer_number, issued, expires: ISO), set
    # by the seeding (mock_oqs/kakunin.py): a 後期 member's depends on the day
    kakunin: dict[str, str] | None = None


LONG_AGO = -3000  # days: a qualification held for years


@dataclass(frozen=True, slots=True)
class Cover:
    """One qualification as a persona's insurer registered it; days relative to the
    world's reference day (``registered``: when the service can see it — the time lag)."""

    insurer: str
    personal_family: str = "1"  # 1 本人, 2 家族
    qualified: int = LONG_AGO
    registered: int = LONG_AGO
    lost: int | None = None  # 喪失 (with reason_of_loss)
    reason_of_loss: str | None = None
    ratio_percent: int | None = None  # 後期高齢者医療: 10, 20 or 30
    active_income: bool = False  # 現役並み所得
    limit_certificate_class: str | None = None
    limit_application_class: str | None = None
    specific_disease: str | None = None
    issued: int | None = None  # a 資格確認書's issue and end
    expires: int | None = None
    card_classification: str = "01"
    number: str | None = None  # None: drawn from the seed (with a 記号)


@dataclass(frozen=True, slots=True)
class Persona:
    """One persona: its record in the world (see the module docstring)."""

    id: str
    description: str
    age_days: int
    covers: tuple[Cover, ...]
    expect: Expectation
    variant: Variant = Variant.PHYSICAL
    certificate: str = "linked"  # linked, none, revoked, deregistered (利用登録解除)
    cert_expires: int | None = None  # days; None: years away
    tries_left: int = 3
    public_expense: str | None = None
    reissued_days_ago: int | None = None  # a new card: the previous one's certificate revoked
    medical_ticket: tuple[str, str] | None = None  # 医療扶助: the 指定医療機関 (code, name)
    subsidy: tuple[str, str, int | None] | None = None  # 公費 by card: 法別+実施機関, name, cap
    # lives as the other sex ("1"/"2"): a 通称名 reported to the insurer, and the card's
    # sex as the insurer's 性別表記 handling prints it (NameOfOther, Sex2; mock_oqs/format.py)
    lives_as: str | None = None
    # (age, days): the birthday of that age falls ``days`` after the world's day (0: on
    # it) — the birth date by the calendar, not ``age_days`` (which leap days would move)
    turns: tuple[int, int] | None = None


def _years(years: int, days: int = 0) -> int:
    return int(years * 365.2425) + days


CONFIRMED = ["pin", "face", "visual"]

PERSONAS: tuple[Persona, ...] = (
    Persona(
        "adult-kyokai",
        "成人 本人 3割（協会けんぽ）",
        _years(40),
        (Cover(KYOKAI),),
        Expectation("confirmed", CONFIRMED, "1", "030"),
    ),
    Persona(
        "family",
        "家族（被扶養者）3割",
        _years(36),
        (Cover(KYOKAI, personal_family="2"),),
        Expectation("confirmed", CONFIRMED, "1", "030"),
    ),
    Persona(
        "child-preschool",
        "未就学児 2割",
        _years(4),
        (Cover(KUMIAI, personal_family="2"),),
        Expectation("confirmed", CONFIRMED, "1", "020", ["preschool-ratio"]),
    ),
    Persona(
        "elderly-70-2wari",
        "70–74歳 2割（高齢受給者）",
        _years(72),
        (Cover(KUMIAI),),
        Expectation(
            "confirmed", CONFIRMED, "1", "020", ["elderly-recipient"], period={"visit": [-40]}
        ),
    ),
    Persona(
        "elderly-70-active",
        "70–74歳 現役並み所得 3割",
        _years(73),
        (Cover(KUMIAI, active_income=True),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["elderly-recipient"]),
    ),
    Persona(
        "late-elderly-1wari",
        "75歳以上 後期高齢者 1割",
        _years(81),
        (Cover(KOKI, ratio_percent=10),),
        Expectation("confirmed", CONFIRMED, "1", "010", period={"visit": [-3]}),
    ),
    Persona(
        "late-elderly-2wari",
        "75歳以上 後期高齢者 2割",
        _years(77),
        (Cover(KOKI, ratio_percent=20),),
        Expectation("confirmed", CONFIRMED, "1", "020"),
    ),
    Persona(
        "kokuho",
        "国民健康保険（6桁の保険者番号）",
        _years(52),
        (Cover(KOKUHO),),
        Expectation("confirmed", CONFIRMED, "1", "030"),
    ),
    Persona(
        "limit-u",
        "限度額適用 区分ウ",
        _years(45),
        (Cover(KYOSAI, limit_certificate_class="01", limit_application_class="A03"),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["limit-A03"]),
    ),
    Persona(
        "dialysis",
        "特定疾病（人工透析）",
        _years(61),
        (Cover(KYOKAI, specific_disease="1"),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["specific-disease-1"]),
    ),
    Persona(
        "cert-grace",
        "電子証明書の有効期限切れ（猶予期間内）",
        _years(48),
        (Cover(KYOKAI),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["certificate-grace"]),
        cert_expires=-40,
    ),
    Persona(
        "cert-lapsed",
        "電子証明書の有効期限切れ（猶予期間後）",
        _years(55),
        (Cover(KYOKAI),),
        Expectation("fallback", CONFIRMED, reason="certificate-lapsed"),
        cert_expires=-150,
    ),
    Persona(
        "cert-renewal-due",
        "電子証明書の有効期限が3か月以内",
        _years(30),
        (Cover(KYOKAI),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["certificate-renewal-due"]),
        cert_expires=60,
    ),
    Persona(
        "revoked",
        "電子証明書が失効済み",
        _years(42),
        (Cover(KYOKAI),),
        Expectation("fallback", CONFIRMED, reason="certificate-revoked"),
        certificate="revoked",
    ),
    Persona(
        "not-registered",
        "保険証利用登録なし",
        _years(33),
        (Cover(KYOKAI),),
        Expectation("fallback", CONFIRMED, reason="not-registered"),
        certificate="none",
    ),
    Persona(
        "new-employee",
        "転職直後（登録前のタイムラグ）",
        _years(27),
        (Cover(KUMIAI, qualified=-3, registered=5),),
        Expectation("fallback", CONFIRMED, "4", reason="no-qualification"),
    ),
    Persona(
        "lost",
        "資格喪失（無効）",
        _years(38),
        (Cover(KYOKAI, lost=-30, reason_of_loss="99"),),
        Expectation("fallback", CONFIRMED, "2", reason="invalid"),
    ),
    Persona(
        "lost-newer",
        "旧資格喪失・新資格あり",
        _years(39),
        (
            Cover(KYOKAI_OSAKA, lost=-60, reason_of_loss="03"),
            Cover(KUMIAI, qualified=-59, registered=-50),
        ),
        Expectation("confirmed", CONFIRMED, "1", "030", number_query={"old": "3", "new": "1"}),
    ),
    Persona(
        "multiple",
        "複数の有効な資格（複数該当）",
        _years(44),
        (
            Cover(KYOKAI),
            Cover(KYOSAI),
        ),
        Expectation("fallback", CONFIRMED, "5", reason="multiple"),
    ),
    Persona(
        "pin-blocked",
        "暗証番号ロック（顔認証・目視は可）",
        _years(58),
        (Cover(KYOKAI),),
        Expectation("confirmed", ["face", "visual"], "1", "030", pin="blocked"),
        tries_left=0,
    ),
    Persona(
        "face-only",
        "顔認証マイナンバーカード（暗証番号なし）",
        _years(86),
        (Cover(KOKI, ratio_percent=10),),
        Expectation(
            "confirmed", ["face", "visual"], "1", "010", pin="not-set", period={"visit": [-10]}
        ),
        variant=Variant.FACE_ONLY,
    ),
    # smartphones: the PIN on the reader (Android) or on the phone (iPhone); no face
    # object for the reader to compare and no photo for staff to check by eye
    Persona(
        "android",
        "スマートフォン（Android）",
        _years(29),
        (Cover(KYOKAI),),
        Expectation("confirmed", ["pin"], "1", "030", period={"online": [-20]}),
        variant=Variant.ANDROID,
    ),
    Persona(
        "iphone",
        "スマートフォン（iPhone）",
        _years(31),
        (Cover(KYOKAI),),
        Expectation("confirmed", ["pin"], "1", "030", period={"online": [-2]}),
        variant=Variant.IPHONE,
    ),
    Persona(
        "public-expense",
        "公費負担医療の受給者（紙の受給者証も必要）",
        _years(50),
        (Cover(KYOKAI),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["public-expense-paper"]),
        public_expense="指定難病 医療受給者証",
    ),
    Persona(
        "reissued",
        "カード再発行（新しい電子証明書・同じ本人。旧カードは失効）",
        _years(34),
        (Cover(KYOKAI),),
        Expectation("confirmed", CONFIRMED, "1", "030"),
        reissued_days_ago=20,
    ),
    # 医療扶助 by card (since 2024-03): a 生活保護 recipient whose 医療券 entrusts this
    # clinic, and one whose 医療券 names another clinic (the result says so)
    Persona(
        "medical-aid",
        "医療扶助（生活保護）・当院が指定医療機関",
        _years(58),
        (Cover(FUKUSHI, card_classification="A1", number="1234567"),),
        Expectation("confirmed", CONFIRMED, "1", "000", ["medical-aid"], period={"aid": [0, -1]}),
        medical_ticket=(INSTITUTION_CODE, CLINIC),
    ),
    Persona(
        "medical-aid-elsewhere",
        "医療扶助（生活保護）・指定医療機関は他院（未委託）",
        _years(63),
        (Cover(FUKUSHI, card_classification="A1", number="7654321"),),
        Expectation(
            "confirmed", CONFIRMED, "1", "000", ["medical-aid", "medical-aid-not-designated"]
        ),
        medical_ticket=OTHER_CLINIC,
    ),
    # 公費 by card where the pilot runs (PMH): the municipality registered the 受給者証;
    # elsewhere (the clinic's setting off) the paper certificate is still needed
    Persona(
        "kodomo-iryo",
        "子ども医療費の受給者（公費を実証事業の地域ではカードで）",
        _years(8),
        (Cover(KYOKAI, personal_family="2"),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["public-expense-paper"]),
        public_expense="子ども医療費受給者証",
        subsidy=("8813601", "子ども医療費受給者証", 0),
    ),
    Persona(
        "nanbyo",
        "指定難病の受給者（公費を実証事業の地域ではカードで）",
        _years(47),
        (Cover(KUMIAI),),
        Expectation("confirmed", CONFIRMED, "1", "030", ["public-expense-paper"]),
        public_expense="特定医療費（指定難病）受給者証",
        subsidy=("5413601", "特定医療費（指定難病）受給者証", 10000),
    ),
    # a 資格確認書 holder (no 保険証利用登録): valid for 30 more days, then it lapses
    Persona(
        "kakunin-expiring",
        "資格確認書（有効期限まで30日・保険証利用登録なし）",
        _years(46),
        (Cover(KOKUHO, issued=-335, expires=30),),
        Expectation("fallback", CONFIRMED, reason="not-registered", number_query={"current": "1"}),
        certificate="none",
    ),
    # the 75th birthday on the world's day: 国保 (70–74, 2割) lost that day (事由 03) and
    # 後期高齢者医療 from it (1割), registered two weeks before (persona_days.aged); the
    # 国保 numbers (world.json's) by number: 3, lost with a newer qualification
    Persona(
        "turning-75",
        "75歳の誕生日当日（国保 2割 → 後期高齢者医療 1割）",
        _years(75),
        (Cover(KOKUHO),),
        Expectation("confirmed", CONFIRMED, "1", "010", number_query={"current": "3"}),
        turns=(75, 0),
    ),
    # a 通称名 reported to the insurer and the card's sex printed as the person lives
    # (事務連絡 on 被保険者証の性別表記 2012 and 氏名表記 2017): the result names both
    Persona(
        "tsushomei",
        "通称名を届出（券面の性別表記も本人の申出どおり）",
        _years(35),
        (Cover(KYOKAI),),
        Expectation("confirmed", CONFIRMED, "1", "030"),
        lives_as="2",
    ),
    # the old 国保 保険証 (printed 有効期限 2025-07-31) brought after every 保険証 expired,
    # the 資格確認書 left at home; no 保険証利用登録. The interim rule (事務連絡 2025-11-12)
    # let the clinic query by its numbers until 2026-03-31 (reception/ladder_rules.py)
    Persona(
        "old-hokensho",
        "期限切れの保険証を持参（国保・保険証利用登録なし。番号照会は2026-03-31まで）",
        _years(64),
        (Cover(KOKUHO),),
        Expectation(
            "fallback",
            CONFIRMED,
            reason="not-registered",
            number_query={"current": "1"},
            old_card={
                "printed_until": "2025-07-31",
                "interim_from": "2025-12-02",
                "interim_until": "2026-03-31",
                "in_window": "confirmed-certificate",
                "after_window": "refused",
            },
        ),
        certificate="none",
    ),
    # 利用登録解除 (since 2024-11-01): registered once, cancelled with the insurer
    # (mock_oqs/deregistration.py); holds the 資格確認書 issued then (mock_oqs/kakunin.py)
    Persona(
        "deregistered",
        "保険証利用登録を解除（資格確認書あり・カードリーダーで再登録可）",
        _years(57),
        (Cover(KOKUHO),),
        Expectation("fallback", CONFIRMED, reason="not-registered", number_query={"current": "1"}),
        certificate="deregistered",
    ),
)
