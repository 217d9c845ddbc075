"""Fault injection: set with ``mock-oqs faults``, seen by the running app at once."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.cli import main as mock_oqs
from mock_oqs.world import World
from tests.support.oqs import make_client, with_client_cert
from tests.support.stack import WORLD_TODAY


@pytest.fixture
def own_world(world: World, tmp_path: Path) -> World:
    """A private copy: faults must not leak into other tests."""
    copy = tmp_path / "world"
    shutil.copytree(world.directory, copy)
    return World.load(copy)


def faults(world: World, *args: str) -> None:
    assert mock_oqs(["faults", "--world", str(world.directory), *args]) == 0


def test_outage_then_recovery(own_world: World) -> None:
    client = make_client(own_world)
    assert client.post("/v1/nonces").status_code == 200
    faults(own_world, "--outage", "on")
    down = client.post("/v1/nonces")
    assert down.status_code == 503 and down.json()["error"]["code"] == "MOCK-F001"
    assert client.get("/health").status_code == 503
    faults(own_world, "--outage", "off")
    assert client.post("/v1/nonces").status_code == 200


def test_errors_malformed_and_per_facility(own_world: World) -> None:
    client = make_client(own_world)
    faults(own_world, "--error-rate", "1")
    error = client.post("/v1/nonces")
    assert error.status_code == 500 and error.json()["error"]["code"] == "MOCK-F002"
    assert client.get("/health").status_code == 200  # only /v1 is hit by errors
    faults(own_world, "--clear", "--malformed", "on")
    garbage = client.post("/v1/nonces")
    assert garbage.status_code == 200
    with pytest.raises(ValueError):
        garbage.json()
    # a facility's own entry replaces the global one for its terminal
    code = own_world.index["institution_code"]
    faults(own_world, "--facility", code, "--malformed", "off")
    assert client.post("/v1/nonces").json()["nonce"]
    faults(own_world, "--clear")
    faults(own_world, "--facility", "9999999999", "--outage", "on")
    assert client.post("/v1/nonces").status_code == 200


def test_latency_and_hang(own_world: World) -> None:
    app = create_app(ServiceSettings(world=own_world.directory, today=WORLD_TODAY))
    pem = (own_world.terminal_cert).read_text()
    transport = httpx.ASGITransport(app=with_client_cert(app, pem))

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="https://oqs.test") as c:
            return await c.post("/v1/nonces")

    faults(own_world, "--latency-ms", "300")
    loop = asyncio.new_event_loop()
    try:
        started = loop.time()
        assert loop.run_until_complete(post()).status_code == 200
        assert loop.time() - started >= 0.3
        faults(own_world, "--clear", "--hang", "on")
        with pytest.raises(TimeoutError):
            loop.run_until_complete(asyncio.wait_for(post(), timeout=0.5))
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--error-rate", "2"], "a rate is 0..1"),
        (["--latency-ms", "soon"], "not a whole number"),
        (["--outage", "maybe"], "invalid choice"),
    ],
)
def test_faults_cli_rejects_garbage(
    own_world: World, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        mock_oqs(["faults", "--world", str(own_world.directory), *args])
    assert message in capsys.readouterr().err


def test_faults_cli_bad_facility_and_broken_file(
    own_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mock_oqs(["faults", "--world", str(own_world.directory), "--facility", "12"]) == 2
    assert "10 digits" in capsys.readouterr().err
    (own_world.directory / "faults.json").write_text("{broken")
    assert mock_oqs(["faults", "--world", str(own_world.directory), "--outage", "on"]) == 2
    assert "--clear" in capsys.readouterr().err
    client = make_client(own_world)
    assert client.post("/v1/nonces").status_code == 200  # a broken file injects nothing
