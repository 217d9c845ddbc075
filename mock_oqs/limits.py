"""What one facility may ask of the mock service (design.md §6.9), apart from the engine:
``mock-oqs``'s options and its refusal audit read them without loading the service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

BULK_MAX = 10_000  # queries in one upload (the format's limit; ServiceLimits caps a job)
DAY = 24 * 3600.0
REFUSALS_KEEP_DAYS = 90  # the refusal audit's rows, per facility, code and minute
STATE_FILE = "service-state.sqlite"  # nonces, consents, 一括照会, budgets, refusals


class ServiceLimits(BaseModel):
    """What one facility may ask by number, and how much 一括照会 it may keep (design.md
    §6.9); settings of ``mock-oqs serve``. ``None``: no limit (a benchmark's choice).

    Why these numbers: a clinic confirms about 45–55 patients a working day, most by card
    (oqs.md §9); by number come the 資格確認書 holders, re-verification of 申立書 and the
    folder interface's queries — a handful an hour, tens in a busy minute at most — and one
    一括照会 of the day's booked patients, a few hundred entries. So: 60 lookups a minute (a
    bucket of 60 that refills one a second), 2,000 a rolling day (every lookup and every
    一括照会 entry; several days of a clinic's real load), 500 entries a job, 2 jobs running
    and 20 kept per facility, results kept 24 hours. A stranger with a clinic's certificate
    who guesses birth dates (issue 19: 6,000 queries in 6 s found one) gets 60 guesses
    then one a second, at most 2,000 a day — and every refusal is recorded.

    Rate alone does not stop a guesser who is patient, or who puts a year of dates into
    one 一括照会 (an outsider did, within the per-day budget). So the birth dates tried
    with one patient's numbers are counted too: ``birth_dates_per_patient`` different
    dates in a rolling day (a clinic retypes a date once or twice; it never tries a
    year of them), whatever the way of asking — a single lookup, the records, a 照会番号,
    a 一括照会's entries (a job that holds more is refused whole).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookups_per_minute: int | None = Field(default=60, ge=1)
    lookups_per_day: int | None = Field(default=2000, ge=1)
    bulk_entries: int = Field(default=500, ge=1, le=BULK_MAX)
    bulk_running: int = Field(default=2, ge=1)
    bulk_stored: int = Field(default=20, ge=1)
    bulk_keep_hours: float = Field(default=24.0, gt=0)
    birth_dates_per_patient: int | None = Field(default=3, ge=1)

    @classmethod
    def unlimited(cls) -> ServiceLimits:
        """No rate limit and the format's largest jobs (benchmarks that say so)."""
        return cls(
            lookups_per_minute=None,
            lookups_per_day=None,
            bulk_entries=BULK_MAX,
            bulk_running=1_000,
            bulk_stored=10_000,
            birth_dates_per_patient=None,
        )
