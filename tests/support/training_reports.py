"""A trainee's run as the report sees it (tests/support): a scenario of nine cases scored
by the real :func:`reception.training.scoring.score` against outcomes a trainee could
reach — some perfect, some with a wrong 負担割合, a wrong phrase, a slow case, the
mistakes that cost at any time — without running the simulator."""

from __future__ import annotations

import datetime as dt

from reception.training.phrases import Mistake
from reception.training.scenario import Document, EndState, parse
from reception.training.scoring import CaseOutcome, RunReport, score

JST = dt.timezone(dt.timedelta(hours=9))

SCENARIO = """
id = "report-sample"
title = "基本（報告の見本）"
day = "2026-12-07"

[[case]]
id = "pin"
title = "暗証番号で受付"
persona = "adult-kyokai"
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "マイナ保険証を暗証番号で確認できれば、負担割合は結果のとおり（3割）です。"
source = "https://www.mhlw.go.jp/stf/newpage_08277.html"

[[case]]
id = "forgot-pin"
title = "暗証番号を忘れた"
persona = "adult-kyokai"
[case.situation]
method = "face"
says = ["forgot-pin"]
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "暗証番号がわからなくても顔認証で受付できます。暗証番号を尋ねてはいけません。"
source = "厚生労働省 オンライン資格確認 運用マニュアル"

[[case]]
id = "kakunin"
title = "資格確認書で受付"
persona = "kakunin-expiring"
[case.situation]
brings = ["kakunin"]
says = ["kakunin-expiring"]
[case.model]
end = "certificate"
ratio = 3
accept = ["kakunin"]
explain = "資格確認書の記号・番号で資格を照会します。"
source = "https://www.mhlw.go.jp/content/kakuninsho.pdf"

[[case]]
id = "elderly-70"
title = "70〜74歳の負担割合"
persona = "adult-kyokai"
[case.model]
end = "card"
ratio = 2
accept = ["card"]
explain = "70〜74歳は原則2割（現役並み所得者は3割）。結果の負担割合で会計します。"
source = "javascript:alert(1)"

[[case]]
id = "declaration"
title = "資格が確認できない（申立書）"
persona = "new-employee"
[case.model]
end = "declared"
ratio = 3
accept = ["card"]
explain = \"\"\"資格が確認できないときは被保険者資格申立書を書いていただき、
3割で会計します。\"\"\"
source = "支払基金 医療機関等向けページ"

[[case]]
id = "nocard"
title = "何も持っていない"
persona = "adult-kyokai"
[case.situation]
brings = []
says = ["forgot-card"]
[case.model]
end = "self-pay"
ratio = 10
explain = "マイナ保険証も資格確認書もなければ、いったん10割で会計します。"
source = "https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000123456.html"

[[case]]
id = "notice"
title = "資格情報のお知らせを添えて"
persona = "not-registered"
[case.situation]
brings = ["card", "notice"]
says = ["only-notice"]
[case.model]
end = "notice"
ratio = 3
accept = ["card", "notice"]
refuse = ["old-card"]
explain = "資格情報のお知らせはマイナ保険証と一緒に提示されて使えます。"
source = "https://www.mhlw.go.jp/"

[[case]]
id = "reader-fault"
title = "顔認証付きカードリーダーの故障"
persona = "adult-kyokai"
[case.situation]
fault = "reader"
[case.model]
end = "counter"
ratio = 3
accept = ["card"]
explain = "カードリーダーが使えないときは居宅同意取得型で資格を確認します。"
source = "オンライン資格確認等システム 運用マニュアル 第3章"

[[case]]
id = "child"
title = "子ども（未就学児）"
persona = "adult-kyokai"
[case.model]
end = "card"
ratio = 2
accept = ["card"]
explain = "未就学児は2割です。"
source = "https://www.mhlw.go.jp/child"
"""


def _outcomes() -> dict[str, CaseOutcome]:
    card = [Document.CARD]
    return {
        o.case_id: o
        for o in (
            CaseOutcome(case_id="pin", end=EndState.CARD, ratio=3, accepted=card, seconds=48),
            CaseOutcome(
                case_id="forgot-pin",
                end=EndState.CARD,
                ratio=3,
                accepted=card,
                words={"forgot-pin": "tell-me"},
                mistakes=[(Mistake.ASK_PIN, "「暗証番号を教えていただければ…」と答えた")],
                seconds=131,
            ),
            CaseOutcome(
                case_id="kakunin",
                end=EndState.CERTIFICATE,
                ratio=3,
                accepted=[Document.KAKUNIN],
                words={"kakunin-expiring": "insurer"},
                seconds=95,
            ),
            CaseOutcome(
                case_id="elderly-70", end=EndState.CARD, ratio=3, accepted=card, seconds=60
            ),
            CaseOutcome(
                case_id="declaration",
                status="in-progress",
                end=None,
                ratio=None,
                accepted=card,
                mistakes=[
                    (Mistake.WRONG_RECEPTION, "申立書を R-0007（前の患者さん）に記録しようとした"),
                    (Mistake.RUNG_SKIPPED, "資格確認書を確かめずに申立書へ進んだ"),
                ],
                seconds=410,
            ),
            CaseOutcome(
                case_id="nocard",
                end=EndState.SELF_PAY,
                ratio=10,
                words={"forgot-card": "kakunin-or-full"},
                seconds=300,
            ),
            CaseOutcome(
                case_id="notice",
                end=EndState.NOTICE,
                ratio=3,
                accepted=[Document.CARD, Document.NOTICE, Document.OLD_CARD],
                words={"only-notice": "with-card"},
                mistakes=[(Mistake.TAKE_CARD, "カードを預かって読み取った")],
                seconds=88,
            ),
            CaseOutcome(
                case_id="reader-fault", end=EndState.COUNTER, ratio=3, accepted=card, seconds=150
            ),
            CaseOutcome(case_id="child", end=EndState.CARD, ratio=2, accepted=card, seconds=70),
        )
    }


def sample_report(
    *,
    trainee: str = "山田 花子",
    cases: int | None = None,
    finished: bool = True,
    waits: tuple[float, ...] = (),
) -> RunReport:
    """The sample run: its first ``cases`` cases scored (all by default). With ``waits``
    the set is a 朝の混雑 (each case's patient waited that long; target 300 s)."""
    loaded = parse(SCENARIO, "<report-sample>")
    scenario = loaded.scenario
    outcomes = _outcomes()
    wait_target = 300.0 if waits else None
    chosen = scenario.cases if cases is None else scenario.cases[:cases]
    scored = []
    for n, case in enumerate(chosen):
        outcome = outcomes[case.id]
        if waits:
            outcome = outcome.model_copy(update={"waited": waits[n % len(waits)]})
        scored.append(score(case, outcome, scenario.penalties_of(case), wait_target))
    started = dt.datetime(2026, 12, 7, 9, 2, 30, tzinfo=JST)
    return RunReport(
        scenario_id=scenario.id,
        scenario_title=scenario.title,
        trainee=trainee,
        day=scenario.day or dt.date(2026, 12, 7),
        started=started,
        finished=started + dt.timedelta(minutes=31) if finished else None,
        cases=scored,
        case_count=len(scenario.cases),
    )
