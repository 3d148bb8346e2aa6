"""RFC 9457 problem+json answers, and the aiohttp middleware that turns every error into one."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from aiohttp import web

from shared.errors import RequestError

log = logging.getLogger("hookmesh.http")
PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "https://hookmesh.dev/problems/"


def problem(status: int, title: str, detail: str, *, kind: str = "about:blank", instance: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind if kind != "about:blank" else kind,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return web.Response(status=status, body=msgspec.json.encode(body), content_type=PROBLEM_TYPE,
                        headers=headers)


def from_error(exc: RequestError, instance: str | None = None) -> web.Response:
    return problem(exc.status, exc.title, exc.detail, kind=exc.kind, instance=instance, headers=exc.headers,
                   **exc.extra)


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return from_error(exc, request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = {404: f"no route for {request.path}", 405: f"{request.method} is not allowed here"}.get(
            exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return problem(exc.status, exc.reason, detail, instance=request.path, headers=headers)
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return problem(500, "Internal error", "an unexpected error occurred; it was logged with this "
                       "request's trace id", instance=request.path)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=msgspec.json.encode(data), content_type="application/json",
                        headers=headers)
