"""Every source auth mode against a running ingress: accepted with the secret, refused (401) without it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import standardwebhooks

from tests.e2e.ingress_support import sources_yaml, stored
from tests.support.mesh import Mesh

BODY = b'{"order_id": "A-1", "total": 5}'
JSON = {"Content-Type": "application/json"}
ORDER = "    event_type: com.acme.order.created\n    schema_version: 1\n"
NEW = "whsec_" + base64.b64encode(b"the-new-secret-of-32-bytes-long!").decode()
OLD = "whsec_" + base64.b64encode(b"the-old-secret-of-32-bytes-long!").decode()


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def _wh(secret: str, when: datetime | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    """Standard Webhooks headers; webhook-id is also the generic source's dedup key."""
    when = when or datetime.now(UTC)
    return {**JSON, "webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": standardwebhooks.Webhook(secret).sign(msg_id, when, BODY.decode())}


async def test_every_auth_mode_with_its_negatives(mesh_factory: type[Mesh], monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("T_TOKEN", "tok-new tok-old")  # two tokens: rotation
    monkeypatch.setenv("T_PASS", "pa55")
    monkeypatch.setenv("T_HMAC", "hm-secret")
    monkeypatch.setenv("T_WH", f"{NEW} {OLD}")
    (tmp_path / "token").write_text("file-token\n")
    blocks = [
        f"  - name: bearer\n    auth: {{type: bearer, token_file: {tmp_path / 'token'}}}\n{ORDER}",
        f"  - name: header\n    auth: {{type: header, header: X-Api-Key, token_env: T_TOKEN}}\n{ORDER}",
        f"  - name: query\n    auth: {{type: query, token_env: T_TOKEN}}\n{ORDER}",
        f"  - name: basic\n    auth: {{type: basic, username: zap, password_env: T_PASS}}\n{ORDER}",
        f"  - name: hmac\n    auth: {{type: hmac-sha256, secret_env: T_HMAC, header: X-Signature, prefix: 'sha256=', "
        f"timestamp_header: X-Timestamp, tolerance: 5m}}\n{ORDER}",
        f"  - name: b64\n    auth: {{type: hmac-sha256, secret_env: T_HMAC, encoding: base64}}\n{ORDER}",
        f"  - name: wh\n    auth: {{type: standard-webhooks, secret_env: T_WH}}\n{ORDER}",
    ]
    mesh = mesh_factory(services=("ingress",))
    await mesh.apply(sources_yaml(*blocks))
    await mesh.start()
    now = str(int(time.time()))
    stale = str(int(time.time()) - 600)
    basic = "Basic " + base64.b64encode(b"zap:pa55").decode()
    good = [
        ("bearer", "", {"Authorization": "Bearer file-token"}),
        ("header", "", {"X-Api-Key": "tok-new"}),
        ("header", "", {"X-Api-Key": "tok-old"}),  # the rotated-out token still works during rotation
        ("query", "?token=tok-new", {}),
        ("basic", "", {"Authorization": basic}),
        ("hmac", "", {"X-Timestamp": now, "X-Signature": "sha256=" + _sign("hm-secret", now.encode() + b"." + BODY)}),
        ("b64", "", {"X-Hookmesh-Signature": base64.b64encode(
            hmac.new(b"hm-secret", BODY, hashlib.sha256).digest()).decode()}),
        ("wh", "", _wh(NEW)),
        ("wh", "", _wh(OLD, msg_id="msg_2")),
    ]
    bad = [
        ("bearer", "", {}, "missing credentials"),
        ("bearer", "", {"Authorization": "Bearer nope"}, "wrong credentials"),
        ("header", "", {"X-Api-Key": "tok-other"}, "wrong credentials"),
        ("query", "?token=wrong", {}, "wrong credentials"),
        ("query", "", {}, "missing credentials"),
        ("basic", "", {"Authorization": "Basic " + base64.b64encode(b"zap:nope").decode()}, "wrong credentials"),
        ("hmac", "", {"X-Timestamp": now, "X-Signature": "sha256=" + _sign("other", now.encode() + b"." + BODY)},
         "does not match"),
        ("hmac", "", {"X-Timestamp": stale,
                      "X-Signature": "sha256=" + _sign("hm-secret", stale.encode() + b"." + BODY)}, "stale timestamp"),
        ("hmac", "", {"X-Signature": "sha256=" + _sign("hm-secret", BODY)}, "missing timestamp"),
        ("hmac", "", {"X-Timestamp": now}, "missing signature"),
        ("wh", "", _wh("whsec_" + base64.b64encode(b"an-unknown-secret-of-32-bytes!!!").decode()), "verification"),
        ("wh", "", _wh(NEW, datetime.now(UTC) - timedelta(minutes=6)), "too old"),
        ("wh", "", {k: v for k, v in _wh(NEW).items() if k != "webhook-signature"}, "Missing required headers"),
    ]
    for name, query, headers in good:
        response = await mesh.request("POST", f"{mesh.url('ingress')}/v1/hooks/{name}{query}", data=BODY,
                                      headers={**JSON, **headers})
        assert response.status == 202, (name, headers, response.body)
    for name, query, headers, fragment in bad:
        response = await mesh.request("POST", f"{mesh.url('ingress')}/v1/hooks/{name}{query}", data=BODY,
                                      headers={**JSON, **headers})
        assert response.status == 401, (name, response.body)
        text = response.body.decode()
        assert fragment in response.json["detail"], (name, text)
        for secret in ("tok-new", "tok-old", "pa55", "hm-secret", "file-token", NEW, OLD):
            assert secret not in text
    assert len(await stored(mesh)) == len(good)


async def test_missing_secret_at_startup_is_a_clear_error(mesh_factory: type[Mesh],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T_UNSET_SECRET", raising=False)
    mesh = mesh_factory(services=("ingress",))
    await mesh.apply(sources_yaml(f"  - name: guarded\n    auth: {{type: bearer, token_env: T_UNSET_SECRET}}\n{ORDER}"))
    with pytest.raises(Exception, match="T_UNSET_SECRET is not set"):
        await mesh.start()


async def test_rate_limit_answers_429_with_retry_after(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=("ingress",))
    await mesh.apply(sources_yaml(f"  - name: slow\n    rate_limit: 2/s\n    max_body_bytes: 64\n{ORDER}"))
    await mesh.start()
    answers = [await mesh.post("slow", data=BODY, headers=JSON) for _ in range(4)]
    statuses = [a.status for a in answers]
    assert statuses[:2] == [202, 202] and 429 in statuses[2:], statuses
    limited = next(a for a in answers if a.status == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["Content-Type"].startswith("application/problem+json")
    too_big = await mesh.post("slow", data=b'{"order_id": "' + b"x" * 100 + b'"}', headers=JSON)
    assert too_big.status == 413
