"""What one facility may ask of the mock service (issue 19, design.md §6.9): lookups by
number are rate-limited per facility, a 一括照会 counts its entries and is capped, jobs are
capped and purged — each refusal a 429 in the service's error format, audited."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.cli import build_parser, main, serve_limits
from mock_oqs.limits import STATE_FILE, ServiceLimits
from mock_oqs.world import World
from tests.support.oqs import client_for, patient_numbers, stranger_pem
from tests.support.stack import WORLD_TODAY, mock_oqs_serving


def app_of(world: World, limits: ServiceLimits | None = None) -> Any:
    settings = ServiceSettings(world=world.directory, today=WORLD_TODAY)
    if limits is not None:
        settings = settings.model_copy(update={"limits": limits})
    return create_app(settings)


@contextlib.contextmanager
def clinic(app: Any, world: World) -> Iterator[httpx.Client]:
    with client_for(app, world.terminal_cert.read_text()) as client:
        yield client


def by_number(client: httpx.Client, world: World, persona: str = "kakunin-expiring") -> Any:
    return client.post("/v1/confirmations/number", json=patient_numbers(world, persona))


def guesses(world: World, count: int) -> list[dict[str, str]]:
    """One patient's numbers with ``count`` different birth dates (the attack of issue 19)."""
    numbers = patient_numbers(world, "kakunin-expiring")
    first = dt.date(1940, 1, 1)
    return [
        numbers | {"birth_date": f"{first + dt.timedelta(days=n):%Y%m%d}"} for n in range(count)
    ]


def bookings(world: World, count: int) -> list[dict[str, str]]:
    """A clinic's real 一括照会: ``count`` booked patients, each named once (numbers nobody
    holds: each answered 該当資格なし, which is enough for the limits)."""
    numbers = patient_numbers(world, "kakunin-expiring")
    return [numbers | {"number": f"9{n:06d}"} for n in range(count)]


def refusals(world: World) -> list[sqlite3.Row]:
    with contextlib.closing(sqlite3.connect(world.directory / STATE_FILE)) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM refusals ORDER BY code").fetchall()


def test_a_flood_of_lookups_by_number_gets_429_with_the_defaults(
    own_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19: 6,000 queries in 6 s, none refused, recovered a birth date. By default a
    facility has 60 at once, then one a second; the 61st in a burst is refused."""
    app = app_of(own_world)
    with clinic(app, own_world) as client:
        accepted = 0
        with caplog.at_level("INFO", logger="mock_oqs.access"):
            for _ in range(200):  # the bucket refills one a second while this runs
                refused = by_number(client, own_world)
                if refused.status_code != 200:
                    break
                accepted += 1
        assert 60 <= accepted < 200
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "MOCK-E018" and "60 per minute" in error["message"]
        assert set(refused.json()) == {"error"}
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        # the same patient named for records or a 照会番号 is a lookup too
        records = client.post("/v1/records/medications", json=patient_numbers(own_world, "family"))
        assert records.status_code == 429 and records.json()["error"]["code"] == "MOCK-E018"
        reference = client.post(
            "/v1/reference-numbers",
            json=patient_numbers(own_world, "family") | {"reference_number": "A-1"},
        )
        assert reference.status_code == 429
    # another clinic is not held back by this one
    with client_for(app, stranger_pem()) as other:
        assert by_number(other, own_world).status_code == 200
    # audited: in the state file and the access log, with the facility
    rows = [r for r in refusals(own_world) if r["code"] == "MOCK-E018"]
    assert {r["facility"] for r in rows} == {"1312345678"}
    assert sum(r["count"] for r in rows) == 3
    [logged] = [json.loads(r.getMessage()) for r in caplog.records if "MOCK-E018" in r.getMessage()]
    assert logged["status"] == 429 and logged["facility"] == "1312345678"


def test_one_bulk_of_ten_thousand_guesses_is_refused(own_world: World) -> None:
    """Issue 19: one 一括照会 of 10,000 dates found the birth date in 1.5 s."""
    with clinic(app_of(own_world), own_world) as client:
        upload = client.post("/v1/bulk-confirmations", json={"queries": guesses(own_world, 10_000)})
        assert upload.status_code == 429
        error = upload.json()["error"]
        assert error["code"] == "MOCK-E018" and "at most 500 per job" in error["message"]
        assert "retry-after" not in upload.headers  # waiting would not help
        # a clinic's real job: the day's booked patients
        assert (
            client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 300)})
        ).status_code == 202


def test_a_patients_birth_date_is_not_guessed_one_lookup_at_a_time(own_world: World) -> None:
    """An outsider, within the rate: one patient's numbers with one birth date after
    another. A clinic retypes a date once or twice; the fourth different date is refused
    (MOCK-E020), whichever way it is asked — and every refusal is audited."""
    tries = guesses(own_world, 6)
    with clinic(app_of(own_world), own_world) as client:
        answered = [client.post("/v1/confirmations/number", json=t) for t in tries[:3]]
        assert [a.status_code for a in answered] == [200, 200, 200]
        refused = client.post("/v1/confirmations/number", json=tries[3])
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "MOCK-E020" and "birth dates" in error["message"]
        assert int(refused.headers["retry-after"]) > 3600  # the first try is a day old then
        for path in ("/v1/records/medications", "/v1/reference-numbers"):
            body = tries[4] | ({"reference_number": "P-1"} if "reference" in path else {})
            other_way = client.post(path, json=body)
            assert other_way.status_code == 429
            assert other_way.json()["error"]["code"] == "MOCK-E020"
        # a date tried before is answered again (a re-verification repeats its date), and
        # another patient is not held back
        assert client.post("/v1/confirmations/number", json=tries[0]).status_code == 200
        assert by_number(client, own_world, "family").status_code == 200
    rows = [r for r in refusals(own_world) if r["code"] == "MOCK-E020"]
    assert sum(r["count"] for r in rows) == 3


def test_a_year_of_birth_dates_in_one_bulk_is_refused(own_world: World) -> None:
    """An outsider used up the per-minute bucket, then put the 365 days of a year into one
    一括照会 (within the job cap and the day's budget): it ran and gave the birth date,
    name and address. A job that tries more dates with one patient's numbers than a day
    allows is refused whole; its entries are not charged."""
    limits = ServiceLimits(lookups_per_day=500)
    with clinic(app_of(own_world, limits), own_world) as client:
        year = guesses(own_world, 365)
        upload = client.post("/v1/bulk-confirmations", json={"queries": year})
        assert upload.status_code == 429
        assert upload.json()["error"]["code"] == "MOCK-E020"
        assert "365 different birth dates" in upload.json()["error"]["message"]
        # spread over jobs of three dates each: the second job's entries are refused
        first = client.post("/v1/bulk-confirmations", json={"queries": year[:3]})
        assert first.status_code == 202
        wait_done(client, first.json()["ReceptionNumber"])
        second = client.post("/v1/bulk-confirmations", json={"queries": year[3:6]})
        assert second.status_code == 202
        answers = wait_done(client, second.json()["ReceptionNumber"])["results"]
        codes = {a["MessageBody"].get("ProcessingResultCode") for a in answers}
        assert codes == {"MOCK-E020"}
        # the day's budget was charged for the jobs that ran, not for the refused one
        rest = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 490)})
        assert rest.status_code == 202
    assert any(r["code"] == "MOCK-E020" for r in refusals(own_world))


def test_bulk_entries_count_against_the_day(own_world: World) -> None:
    limits = ServiceLimits(lookups_per_minute=None, lookups_per_day=400)
    with clinic(app_of(own_world, limits), own_world) as client:
        first = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 350)})
        assert first.status_code == 202
        second = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 100)})
        assert second.status_code == 429 and second.json()["error"]["code"] == "MOCK-E018"
        assert int(second.headers["retry-after"]) > 3600  # hours: the day's budget refills
        assert by_number(client, own_world).status_code == 200  # 50 single lookups are left


def wait_done(client: httpx.Client, number: str) -> dict[str, Any]:
    for _ in range(2000):
        body: dict[str, Any] = client.get(f"/v1/bulk-confirmations/{number}").json()
        if body["SegmentOfResult"] == "1":
            return body
        time.sleep(0.01)
    raise AssertionError(f"一括照会 {number} never finished")


def test_bulk_jobs_are_capped_running_and_kept(own_world: World) -> None:
    """Issue 19: ten uploads of 10,000 added 69 MB in 2 s — jobs were neither capped nor
    ever purged."""
    app = app_of(own_world, ServiceLimits(bulk_running=1, bulk_stored=2))
    service = app.state.service
    release = threading.Event()
    answer = service.lookups.bulk_answer

    def held(query: Any, facility: str) -> dict[str, Any]:
        release.wait(30)
        result: dict[str, Any] = answer(query, facility)
        return result

    service.lookups.bulk_answer = held
    with clinic(app, own_world) as client:
        first = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 3)})
        assert first.status_code == 202
        busy = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 3)})
        assert busy.status_code == 429
        assert busy.json()["error"]["code"] == "MOCK-E019" and "running" in busy.text
        assert busy.headers["retry-after"]
        release.set()
        assert wait_done(client, first.json()["ReceptionNumber"])["done"] == 3
        second = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 3)})
        assert second.status_code == 202
        wait_done(client, second.json()["ReceptionNumber"])
        full = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 3)})
        assert full.status_code == 429
        assert full.json()["error"]["code"] == "MOCK-E019" and "kept" in full.text
        assert int(full.headers["retry-after"]) > 3600  # the oldest goes after 24 h
    rows = refusals(own_world)
    assert {r["code"] for r in rows} == {"MOCK-E019"} and sum(r["count"] for r in rows) == 2


def state_rows(world: World, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(world.directory / STATE_FILE)) as db:
        rows = db.execute(sql, params).fetchall()
        db.commit()
        return rows


def test_bulk_results_are_purged_after_their_time_and_at_start_up(own_world: World) -> None:
    with clinic(app_of(own_world), own_world) as client:
        numbers = []
        for _ in range(2):
            upload = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 5)})
            numbers.append(upload.json()["ReceptionNumber"])
            wait_done(client, numbers[-1])
    old, fresh = numbers
    # the first is older than the 24 h results are kept; a third was left unfinished by a
    # server that has stopped (its thread is gone: it would never finish)
    state_rows(
        own_world,
        "UPDATE bulk_jobs SET created_at = created_at - 25 * 3600 WHERE reception_number = ?",
        old,
    )
    state_rows(
        own_world,
        "INSERT INTO bulk_jobs VALUES "
        "('DEADBEEF00000000', '1312345678', 9, ?, 'gone', 1, 0, 'confirm', '{}')",
        time.time(),
    )
    with clinic(app_of(own_world), own_world) as client:  # a new start
        gone = client.get(f"/v1/bulk-confirmations/{old}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "MOCK-E014"
        assert client.get("/v1/bulk-confirmations/DEADBEEF00000000").status_code == 404
        assert client.get(f"/v1/bulk-confirmations/{fresh}").json()["done"] == 5
    kept = state_rows(own_world, "SELECT DISTINCT reception_number FROM bulk_results")
    assert kept == [(fresh,)]


def test_refusals_are_listed_for_trainers(
    own_world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["refusals", "--world", str(own_world.directory)]) == 0
    assert capsys.readouterr().out == "no refusals recorded\n"
    app = app_of(own_world, ServiceLimits(lookups_per_minute=2))
    with clinic(app, own_world) as client:
        statuses = [by_number(client, own_world).status_code for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    assert main(["refusals", "--world", str(own_world.directory)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(
        "JST  1312345678  MOCK-E018  ×" in line
        and "a lookup by number over this facility's limit (2 per minute, 2000 per day)" in line
        for line in lines
    )
    assert main(["refusals", "--world", str(own_world.directory), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(r["count"] for r in records) == 3
    assert {r["facility"] for r in records} == {"1312345678"}
    assert main(["refusals", "--world", str(own_world.directory), "--facility", "1399999999"]) == 0
    assert capsys.readouterr().out == "no refusals recorded\n"
    # a world named relative to where the trainer stands (it crashed on Path.as_uri)
    monkeypatch.chdir(own_world.directory.parent)
    assert main(["refusals", "--world", own_world.directory.name]) == 0
    assert "MOCK-E018" in capsys.readouterr().out


def test_the_limits_are_options_of_serve(own_world: World) -> None:
    parse = build_parser().parse_args
    defaults = serve_limits(parse(["serve", "--world", "w"]))
    assert defaults == ServiceLimits()
    unlimited = serve_limits(
        parse(["serve", "--world", "w", "--lookups-per-minute", "0", "--lookups-per-day", "0"])
    )
    assert unlimited.lookups_per_minute is None and unlimited.lookups_per_day is None
    # over TLS, two workers sharing one budget
    options = ("--lookups-per-minute", "3", "--bulk-entries", "10")
    with mock_oqs_serving(own_world, workers=2, options=options) as (log, url):
        ctx = ssl.create_default_context(cafile=str(own_world.facility_ca))
        ctx.load_cert_chain(own_world.terminal_cert, own_world.terminal_key)
        statuses = []
        for _ in range(4):
            with httpx.Client(base_url=url, verify=ctx) as client:  # a new connection each
                statuses.append(by_number(client, own_world).status_code)
        with httpx.Client(base_url=url, verify=ctx) as client:
            bulk = client.post("/v1/bulk-confirmations", json={"queries": bookings(own_world, 11)})
    assert statuses == [200, 200, 200, 429]
    assert bulk.status_code == 429 and "at most 10 per job" in bulk.text
    logged = [json.loads(line) for line in log.read_text().splitlines() if '"MOCK-E018"' in line]
    assert [entry["status"] for entry in logged] == [429, 429]
