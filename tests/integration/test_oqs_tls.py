"""Contract over a real socket: ``mock-oqs serve`` with TLS and client certificates."""

from __future__ import annotations

import base64
import datetime as dt
import re
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_oqs.pki import FacilityCa
from mock_oqs.world import World
from reader.jpki import JpkiClient
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import load_profile
from tests.support.stack import mock_oqs_serving

BIN = Path(sys.executable).parent
# one worker for the module: the server's teardown reads the log of the confirmations made
# by this module's tests, which under --dist loadgroup could otherwise run on another
# worker (the tests added since moved them apart: the log held only /health and /docs)
pytestmark = pytest.mark.xdist_group("oqs-tls")

# one worker for the module: its server's teardown reads the access log of every test
# that used it (split across workers, one saw no card and found no persona named)
pytestmark = pytest.mark.xdist_group("oqs-tls")


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with mock_oqs_serving(world, workers=2) as (log_file, url):
        yield url
    log = log_file.read_text(encoding="utf-8")
    assert '"persona": "adult-kyokai"' in log  # the structured access log names personas …
    for entry in world.index["personas"]:
        if entry["pin"]:
            assert f'"{entry["pin"]}"' not in log  # … and nothing personal or secret


def terminal_context(world: World, cert_dir: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(world.facility_ca))
    cert_dir = cert_dir or world.directory / "terminal"
    ctx.load_cert_chain(cert_dir / "cert.pem", cert_dir / "key.pem")
    return ctx


def test_pin_confirmation_over_tls(world: World, server: str) -> None:
    entry = world.persona("adult-kyokai")
    with httpx.Client(base_url=server, verify=terminal_context(world), timeout=10) as client:
        for _ in range(6):  # nonce and confirmation may land on different workers
            nonce = client.post("/v1/nonces").json()["nonce"]
            card = VirtualCard(load_profile(world.directory / entry["card"]))
            auth = JpkiClient(CardChannel(LoopbackTransport(card))).authenticate(
                Pin(entry["pin"]), bytes.fromhex(nonce)
            )
            response = client.post(
                "/v1/confirmations/card",
                json={
                    "certificate": base64.b64encode(auth.certificate_der).decode(),
                    "method": "pin",
                    "nonce": nonce,
                    "signature": base64.b64encode(auth.signature).decode(),
                },
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["MessageBody"]["QualificationValidity"] == "1"
            assert (
                body["MessageHeader"]["MedicalInstitutionCode"] == world.index["institution_code"]
            )


def test_without_client_certificate(world: World, server: str) -> None:
    ctx = ssl.create_default_context(cafile=str(world.facility_ca))
    assert httpx.get(f"{server}/health", verify=ctx).json() == {"status": "ok"}
    response = httpx.post(f"{server}/v1/nonces", verify=ctx)
    assert response.status_code == 401 and response.json()["error"]["code"] == "MOCK-E001"


def test_terminal_certificate_from_another_ca_fails_the_handshake(
    world: World, server: str, tmp_path: Path
) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    rogue = FacilityCa.generate(None, not_before=start, name="Rogue CA")
    rogue.issue_terminal(None, not_before=start, institution_code="1312345678").write(tmp_path)
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{server}/v1/nonces", verify=terminal_context(world, tmp_path), timeout=5)


def test_docs_need_the_terminal_certificate_like_everything_else(world: World, server: str) -> None:
    stranger = ssl.create_default_context(cafile=str(world.facility_ca))
    for path in ("/openapi.json", "/docs"):
        refused = httpx.get(f"{server}{path}", verify=stranger)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "MOCK-E001"
    spec = httpx.get(f"{server}/openapi.json", verify=terminal_context(world)).json()
    assert "/v1/confirmations/card" in spec["paths"]
    assert httpx.get(f"{server}/docs", verify=terminal_context(world)).status_code == 200


def test_the_openapi_description_without_a_server(world: World) -> None:
    import json
    import subprocess

    out = subprocess.run(
        [str(BIN / "mock-oqs"), "openapi", "--world", str(world.directory)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = json.loads(out)
    assert "/v1/confirmations/card" in spec["paths"]
    # every body is described, and every reference in the description resolves
    card = spec["paths"]["/v1/confirmations/card"]["post"]["requestBody"]["content"]
    assert card["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CardConfirmationRequest"
    }
    schemas = spec["components"]["schemas"]
    assert {"nonce", "certificate", "consents"} <= set(
        schemas["CardConfirmationRequest"]["properties"]
    )
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', out)
    assert refs and all(name in schemas for name in refs)
    assert '"$defs"' not in out
