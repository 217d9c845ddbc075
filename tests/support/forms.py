"""Shared test helpers (tests/support): imported by test modules, never the other way."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reception.declaration import (
    today_jst,
)

DAY = today_jst() - dt.timedelta(days=1)  # 申立日 must be near today


def valid(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "declared_on": DAY.isoformat(),
        "reason": "該当資格なし",
        "name": "架空 花子",
        "name_kana": "カクウ ハナコ",
        "birth_date": "1990-05-17",
        "sex": "女",
        "address": "東京都千代田区千代田1-1",
        "phone": "03-1234-5678",
        "insurance_type": "協会けんぽ",
        "insurer_name": "全国健康保険協会 東京支部",
        "employer_name": "株式会社サンプル",
        "declared_ratio": 30,
        "card_shown": True,
    }
    data.update(changes)
    return data
