"""`gpu-stack serve`: the cone viewer, the stack atlas and the scenario lab in the browser.

Modules: `api` (the JSON answers over `gpu_stack.Model` and the audit
modules), `app` (the Starlette routes, request checks and the static front
end), `static/` (plain ES modules and SVG; nothing is fetched from the
network). Needs the `serve` extra (starlette, uvicorn); `missing_extra`
says what to install when it is absent.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Callable, Sequence

from gpu_stack.errors import InputError

__all__ = ["missing_extra", "run_server", "is_loopback"]

_EXTRA = ("starlette", "uvicorn")


def missing_extra() -> list[str]:
    """The packages of the `serve` extra that are not installed (empty when serving can start)."""
    return [name for name in _EXTRA if importlib.util.find_spec(name) is None]


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1, localhost)."""
    return host in ("localhost", "::1") or host.startswith("127.")


def run_server(host: str, port: int, registry_paths: Sequence[str] | None, presets: Sequence[str],
               on_ready: Callable[[str], None]) -> None:
    """Load the registry once, then serve until interrupted; `on_ready(url)` is called once the port answers.

    Raises `InputError` (a bad registry or preset name) before the port is opened.
    """
    import uvicorn

    from gpu_stack.serve.api import Service
    from gpu_stack.serve.app import LOOPBACK_HOSTS, create_app

    service = Service(registry_paths, presets)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # answers go out in two writes (head, body); without this the body waits for the client's delayed ACK
    # (Nagle's algorithm: some 40 ms a request). Accepted connections inherit the option on Linux.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:   # bound here, so a taken port is a message, not uvicorn's exit
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise InputError(f"cannot listen on {host} port {port}: {exc.strerror or exc}",
                         hint="pick another --port, or stop what holds it") from None
    allowed = list(LOOPBACK_HOSTS) if is_loopback(host) else ["*"]
    config = uvicorn.Config(create_app(service, allowed_hosts=allowed), host=host, port=port,
                            log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    display_host = f"[{host}]" if ":" in host else host
    url = f"http://{display_host}:{port}/"

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            on_ready(url)
            if service.default_presets:   # compile the default lab now, not on the first slider move
                try:
                    service.lab(service.default_presets)
                except Exception:  # the page will show the same error when it asks
                    pass

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[listener])
