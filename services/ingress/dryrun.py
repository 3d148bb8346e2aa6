"""`?dry_run=true`: ask validation over NATS request-reply (`hookmesh.rpc.validate`) and publish nothing.

200 with the event(s) that would be published, or 422 with every validation error of every event.
"""

from __future__ import annotations

from typing import Any

import msgspec
import nats.errors
from aiohttp import web
from nats.aio.client import Client as NATS

from shared import subjects
from shared.envelope import CloudEvent, encode
from shared.errors import Unavailable, Unprocessable
from shared.problems import json_response


class DryRunner:
    def __init__(self, nc: NATS, timeout: float = 3.0) -> None:
        self.nc = nc
        self.timeout = timeout

    async def verdict(self, event: CloudEvent) -> dict[str, Any]:
        try:
            reply = await self.nc.request(subjects.RPC_VALIDATE, encode(event), timeout=self.timeout)
        except nats.errors.NoRespondersError:
            raise Unavailable("no validation service is running to answer the dry run",
                              headers={"Retry-After": "5"}) from None
        except (nats.errors.TimeoutError, nats.errors.ConnectionClosedError, TimeoutError) as exc:
            raise Unavailable(f"the validation service did not answer the dry run ({type(exc).__name__})",
                              headers={"Retry-After": "5"}) from None
        result: dict[str, Any] = msgspec.json.decode(reply.data)
        return result

    async def answer(self, events: list[CloudEvent], *, batch: bool) -> web.Response:
        verdicts = [await self.verdict(event) for event in events]
        shown = [msgspec.json.decode(encode(event)) for event in events]
        for event, verdict in zip(shown, verdicts, strict=True):
            if verdict.get("dataschema"):
                event["dataschema"] = verdict["dataschema"]
        failed = [(i, v) for i, v in enumerate(verdicts) if not v.get("ok")]
        if failed:
            errors = [{**e, **({"index": i} if batch else {})} for i, v in failed for e in v.get("errors") or []]
            reasons = "; ".join(f"{'event ' + str(i) + ': ' if batch else ''}{v.get('error')}" for i, v in failed)
            raise Unprocessable(f"dry run: this request would be dead-lettered ({reasons})",
                                extra={"dry_run": True, "errors": errors,
                                       "reasons": [v.get("reason") for _, v in failed],
                                       ("events" if batch else "event"): shown if batch else shown[0]})
        body: dict[str, Any] = {"dry_run": True, "valid": True, "published": False}
        body["events" if batch else "event"] = shown if batch else shown[0]
        deprecated = [v for v in verdicts if v.get("deprecated")]
        if deprecated:
            body["deprecation"] = {"sunset": deprecated[0].get("sunset")}
        return json_response(body)
