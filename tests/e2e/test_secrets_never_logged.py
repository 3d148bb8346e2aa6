"""Secrets never appear in logs or dead letters: a full run at DEBUG, every line scanned for every secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import signal
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import standardwebhooks

from shared.embedded_nats import free_port
from shared.settings import SERVICES, port_env
from tests.support.cli import Running
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

SECRETS = {
    "BEARER_TOKEN": "tok-8f3b2c9d1e7a",
    "HMAC_SECRET": "hmac-5a6b7c8d9e0f",
    "SWH_SECRET": "whsec_" + base64.b64encode(b"source-standard-webhooks-key-32b").decode(),
    "SINK_SECRET": "whsec_" + base64.b64encode(b"destination-signing-secret-32byt").decode(),
    "HOOKMESH_ADMIN_TOKEN": "adm-1c2d3e4f5a6b",
}

CONFIG = """
sources:
  - name: bearer
    event_type: com.acme.order.created
    auth: {{type: bearer, token_env: BEARER_TOKEN}}
  - name: signed
    event_type: com.acme.order.created
    auth: {{type: hmac-sha256, secret_env: HMAC_SECRET, header: X-Signature, prefix: "sha256="}}
  - name: swh
    event_type: com.acme.order.created
    auth: {{type: standard-webhooks, secret_env: SWH_SECRET}}
schemas:
  - type: com.acme.order.created
    version: 1
    schema: {{type: object, required: [order_id]}}
destinations:
  - name: ok
    url: {ok}
    secret_env: SINK_SECRET
    allow_private_network: true
  - name: failing
    url: {failing}
    secret_env: SINK_SECRET
    retry: {{max_attempts: 2, initial: 100ms, max: 200ms}}
    allow_private_network: true
routes:
  - name: all
    match: {{type: [com.acme.order.created]}}
    to: [ok, failing]
"""


def _forms(secret: str) -> list[str]:
    """The secret as written, and the raw key inside a whsec_ secret (as text, when it is text)."""
    forms = [secret]
    if secret.startswith("whsec_"):
        forms.append(base64.b64decode(secret[6:]).decode(errors="ignore"))
    return forms


async def test_no_secret_in_any_log_line_or_dead_letter(tmp_path: Path, sink: RecordingSink) -> None:
    failing = RecordingSink(default_status=500)
    await failing.start()
    config = tmp_path / "hookmesh.yaml"
    config.write_text(CONFIG.format(ok=sink.url, failing=failing.url))
    ports = {s: free_port() for s in SERVICES}
    env = {port_env(s): str(p) for s, p in ports.items()} | SECRETS | {
        "HOOKMESH_LOG_LEVEL": "DEBUG", "HOOKMESH_LOG_FORMAT": "json"}
    up = await Running.start("up", "--config", str(config), "--data-dir", str(tmp_path / "store"),
                             "--nats-port", str(free_port()), env=env, cwd=tmp_path)
    ingress = f"http://127.0.0.1:{ports['ingress']}/v1/hooks"
    admin = {"Authorization": f"Bearer {SECRETS['HOOKMESH_ADMIN_TOKEN']}"}
    try:
        await up.wait_for_line("hookmesh is up")
        body = b'{"order_id": "A-1"}'
        signature = "sha256=" + hmac.new(SECRETS["HMAC_SECRET"].encode(), body, hashlib.sha256).hexdigest()
        swh = standardwebhooks.Webhook(SECRETS["SWH_SECRET"])
        now = datetime.now(UTC)
        swh_headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": swh.sign("msg_1", now, body.decode())}
        json_type = {"Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http:
            requests = [
                ("bearer", {"Authorization": f"Bearer {SECRETS['BEARER_TOKEN']}"}, body, 202),
                ("bearer", {"Authorization": "Bearer wrong"}, body, 401),
                ("signed", {"X-Signature": signature}, body, 202),
                ("signed", {"X-Signature": "sha256=00"}, body, 401),
                ("swh", swh_headers, body, 202),
                ("bearer", {"Authorization": f"Bearer {SECRETS['BEARER_TOKEN']}"}, b'{"no": "order"}', 202),
            ]
            for source, headers, data, status in requests:
                async with http.post(f"{ingress}/{source}", data=data, headers=headers | json_type) as resp:
                    assert resp.status == status, (source, resp.status, await resp.text())
            dead_letters_url = f"http://127.0.0.1:{ports['deadletter']}/v1/dead-letters?limit=100"

            async def dead_letters() -> str | None:
                async with http.get(dead_letters_url, headers=admin) as resp:
                    text = await resp.text()
                    # 1 schema-invalid + 3 exhausted deliveries to the failing destination
                    return text if text.count('"reason"') >= 4 else None

            letters = await eventually(dead_letters, timeout=20, what="the dead letters")
        await sink.wait_for(3)
        up.process.send_signal(signal.SIGTERM)
        assert await up.wait(timeout=30) == 0
    finally:
        up.kill()
        await failing.stop()

    output = up.output
    assert len(up.lines) > 30 and "\"level\":\"debug\"" in output  # a real DEBUG run was scanned
    for name, secret in SECRETS.items():
        for form in _forms(secret):
            assert form not in output, f"{name} appears in the logs"
            assert form not in letters, f"{name} appears in a dead letter"
    assert "Bearer " not in output  # no Authorization header value, right or wrong
