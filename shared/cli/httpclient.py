"""Small HTTP helpers for CLI commands that talk to the services' APIs."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import msgspec


class ApiError(SystemExit):
    pass


async def call(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
               timeout: float = 30.0) -> tuple[int, Any]:
    hdrs = dict(headers or {})
    token = os.environ.get("HOOKMESH_ADMIN_TOKEN")
    if token and "Authorization" not in hdrs:
        hdrs["Authorization"] = f"Bearer {token}"
    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                    session.request(method, url, data=body, headers=hdrs) as resp):
            raw = await resp.read()
            try:
                data = msgspec.json.decode(raw) if raw else None
            except msgspec.DecodeError:
                data = raw.decode(errors="replace")
            return resp.status, data
    except aiohttp.ClientConnectorError as exc:
        raise ApiError(f"cannot reach {url} ({exc.os_error or exc}); is `hookmesh up` running?") from None


def problem_text(status: int, data: Any) -> str:
    if isinstance(data, dict) and "detail" in data:
        return f"HTTP {status} {data.get('title', '')}: {data['detail']}"
    return f"HTTP {status}: {data}"
