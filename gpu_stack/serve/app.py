"""The Starlette app of `gpu-stack serve`: routes, request checks, and the static front end.

The API takes IDs, numbers and scenario names only — never a path: a name is
looked up among the scenarios the registry ships (or its `--registry`
siblings hold). Each request body is JSON of at most `MAX_BODY_BYTES`, read
field by field with a message naming the field; bad input is HTTP 400 with the
CLI's message (`{"error": …}`), a bug is HTTP 500 with one line naming it,
never a traceback. The work runs in a worker thread, one request at a time
(`Service.lock`: compiled CasADi functions are not shared across threads).
"""

from __future__ import annotations

import json
import math
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gpu_stack.errors import InputError
from gpu_stack.serve.api import Service, scenario_toml

__all__ = ["create_app", "MAX_BODY_BYTES", "STATIC"]

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 64 * 1024      # a lab state is a few hundred bytes; anything much larger is not a request of ours
MAX_LIST = 64                   # presets or assigned values in one request
MAX_TEXT = 200                  # one ID, scenario name or search text
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# the page loads nothing from elsewhere, and may only talk to its own server
_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class BadRequest(InputError):
    """A request the API cannot read (not JSON, a missing or mistyped field, too large)."""


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of a request, read up to `MAX_BODY_BYTES` and no further."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _fields(body: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field(s) {unknown}", hint=f"this request takes {', '.join(allowed)}")


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"field '{key}' must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"field '{key}' is longer than {MAX_TEXT} characters")
    return value.strip()


def _number(body: dict[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"field '{key}' must be a finite number (in the variable's declared unit)")
    return float(value)


def _names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or len(value) > MAX_LIST or \
            not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value):
        raise BadRequest(f"field '{key}' must be a list of at most {MAX_LIST} names")
    return value


def _numbers(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key, {})
    if not isinstance(value, dict) or len(value) > MAX_LIST:
        raise BadRequest(f"field '{key}' must be an object of at most {MAX_LIST} ID: number pairs")
    for ident, number in value.items():
        if len(ident) > MAX_TEXT or isinstance(number, bool) or not isinstance(number, (int, float)):
            raise BadRequest(f"field '{key}': '{ident[:MAX_TEXT]}' must map to a number (in its declared unit)")
    return value


Handler = Callable[[Service, Request], Awaitable[Any]]


def _route(service: Service, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: its answer as JSON, bad input as 400 with the message, a bug as 500 with one line."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(service, request))
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except Exception as exc:  # a bug: say so and where, never the traceback
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "gpu_stack" in f.filename]
            where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
            return JSONResponse({"error": f"internal error (a bug in gpu-stack{where}): {type(exc).__name__}: "
                                          f"{exc}"}, status_code=500)

    return endpoint


def _locked(service: Service, work: Callable[[], Any]) -> Awaitable[Any]:
    def run() -> Any:
        with service.lock:
            return work()
    return run_in_threadpool(run)


async def _meta(service: Service, request: Request) -> Any:
    return service.meta()


async def _search(service: Service, request: Request) -> Any:
    text = request.query_params.get("q", "")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"the search text is longer than {MAX_TEXT} characters")
    return {"query": text, "matches": service.search(text)}


async def _cone(service: Service, request: Request) -> Any:
    body = await _body(request)
    _fields(body, ["target", "direction", "presets", "assign"])
    target = _text(body, "target")
    direction = _text(body, "direction", "up")
    if direction not in ("up", "down"):
        raise BadRequest(f"field 'direction' must be 'up' or 'down' (got {direction!r})")
    presets = service.check_presets(_names(body, "presets"))
    assign = service.check_values(_numbers(body, "assign"))
    return await _locked(service, lambda: service.cone(target, direction, presets, assign))


async def _atlas(service: Service, request: Request) -> Any:
    body = await _body(request)
    _fields(body, ["presets"])
    presets = service.check_presets(_names(body, "presets"))
    return await _locked(service, lambda: service.atlas(presets))


async def _light(service: Service, request: Request) -> Any:
    body = await _body(request)
    _fields(body, ["output", "presets"])
    output = _text(body, "output")
    presets = service.check_presets(_names(body, "presets"))
    return await _locked(service, lambda: service.light(output, presets))


async def _lab(service: Service, request: Request) -> Any:
    body = await _body(request)
    _fields(body, ["presets"])
    presets = service.check_presets(_names(body, "presets"))
    return await _locked(service, lambda: service.lab(presets).describe())


async def _evaluate(service: Service, request: Request) -> Any:
    body = await _body(request)
    _fields(body, ["presets", "values"])
    presets = service.check_presets(_names(body, "presets"))
    values = service.check_values(_numbers(body, "values"))
    lab = service.compiled_lab(presets)
    if lab is not None and service.lock.acquire(blocking=False):
        try:   # compiled and free: a few microseconds, answered without a hop to a worker thread
            return {"outputs": lab.evaluate(values)}
        finally:
            service.lock.release()
    return {"outputs": await _locked(service, lambda: service.lab(presets).evaluate(values))}


async def _solve(service: Service, request: Request) -> Any:
    body = await _body(request)
    _fields(body, ["presets", "values", "pin", "pin_value", "free"])
    presets = service.check_presets(_names(body, "presets"))
    values = service.check_values(_numbers(body, "values"))
    pin, pin_value, free = _text(body, "pin"), _number(body, "pin_value"), _text(body, "free")
    return await _locked(service, lambda: service.solve(presets, values, pin, pin_value, free))


async def _export(service: Service, request: Request) -> Any:
    body = await _body(request)
    _fields(body, ["presets", "values"])
    presets = service.check_presets(_names(body, "presets"))
    values = service.check_values(_numbers(body, "values"))
    outputs = (await _locked(service, lambda: service.lab(presets))).outputs
    return {"toml": scenario_toml(presets, values, outputs, service.registry)}


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


def create_app(service: Service, *, allowed_hosts: Sequence[str] = LOOPBACK_HOSTS) -> Starlette:
    """The ASGI app over a loaded `Service`; requests naming another Host than `allowed_hosts` are refused
    (a page elsewhere cannot reach a loopback server through DNS rebinding)."""
    api = [("/api/meta", _meta, "GET"), ("/api/search", _search, "GET"), ("/api/cone", _cone, "POST"),
           ("/api/atlas", _atlas, "POST"), ("/api/atlas/light", _light, "POST"), ("/api/lab", _lab, "POST"),
           ("/api/lab/evaluate", _evaluate, "POST"), ("/api/lab/solve", _solve, "POST"),
           ("/api/lab/export", _export, "POST")]
    routes = [Route("/", _index, methods=["GET"]),
              *(Route(path, _route(service, handler), methods=[method]) for path, handler, method in api),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders),
                                                Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))])


class _SecurityHeaders:
    """Plain ASGI middleware adding the content policy to every response (cheaper than BaseHTTPMiddleware)."""

    _HEADERS = [(b"content-security-policy", _CSP.encode()), (b"x-content-type-options", b"nosniff"),
                (b"cache-control", b"no-store")]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self._HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
