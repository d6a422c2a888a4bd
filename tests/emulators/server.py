"""A small loopback HTTP server for API emulators, with fault injection.

An emulator subclasses `Emulator` and implements ``handle``; `serve` binds 127.0.0.1 on port 0
in a thread. `Faults` injects 429 bursts, 5xx, slow answers and connections dropped half-way
through a page, on a seeded share of requests, so runs are repeatable, or on the request numbers
a test scripts (``Faults(script={3: "429", 4: "drop"})``, ``Faults.burst(...)``).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    """What the emulator sees of a request."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter."""
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else default

    def params(self, name: str) -> list[str]:
        """Every value of a repeated query parameter."""
        return [v for k, v in self.query if k == name]


@dataclass
class Response:
    """Status, JSON body and headers of an answer."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


FAULT_KINDS = ("429", "500", "502", "503", "slow", "drop")


@dataclass
class Faults:
    """Which requests fail and how: ``script`` maps request numbers (1 = the first request the
    emulator sees) to a fault; else ``burst_429`` makes the next N requests 429; else ``rate``
    of requests (seeded) get one of ``kinds``. Kinds: ``429`` (the vendor's rate-limit answer
    and headers), ``500``/``502``/``503`` (its error envelope), ``slow`` (answers after
    ``slow_seconds``), ``drop`` (half the body, then the connection is closed)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "slow", "drop")
    seed: int = 7
    slow_seconds: float = 0.3
    burst_429: int = 0
    script: dict[int, str] = field(default_factory=dict)
    retry_after: str | None = None  # a Retry-After for 429s where the vendor sends one
    injected: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.script.values()) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {FAULT_KINDS}")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    @classmethod
    def burst(cls, kind: str, count: int, start: int = 1) -> Faults:
        """``count`` requests in a row failing with ``kind`` from request number ``start`` on."""
        return cls(script={start + i: kind for i in range(count)})

    @property
    def total(self) -> int:
        """Faults injected so far, all kinds."""
        return sum(self.injected.values())

    def pick(self) -> str | None:
        """The fault for the next request, if any."""
        with self._lock:
            self.requests += 1
            kind: str | None
            if self.requests in self.script:
                kind = self.script[self.requests]
            elif self.burst_429 > 0:
                self.burst_429 -= 1
                kind = "429"
            elif self.rate and self._random.random() < self.rate:
                kind = self._random.choice(self.kinds)
            else:
                kind = None
            if kind:
                self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind


class Emulator:
    """Base of an API emulator: ``handle`` answers a request; faults come from ``faults``."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self.url = ""

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def fault_response(self, kind: str, request: Request) -> Response:
        """The vendor's answer for an injected 429 or 500."""
        raise NotImplementedError


def _handler(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            request = Request(
                method=method,
                path=parts.path,
                query=parse_qsl(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            emulator.requests.append(request)
            fault = emulator.faults.pick()
            if fault == "slow":
                time.sleep(emulator.faults.slow_seconds)
            if fault is not None and fault[0] in "45":  # 429, 500, 502, 503
                response = emulator.fault_response(fault, request)
            else:
                with emulator.lock:
                    response = emulator.handle(request)
            raw = isinstance(response.body, bytes)  # a file download: sent as is, typed by the emulator
            payload = response.body if raw else json.dumps(response.body).encode()
            self.send_response(response.status)
            if not raw:
                self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if fault == "drop":  # half the page, then the connection is gone
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, dropped connection) is part of the tests: no trace."""


@contextmanager
def serve(emulator: Emulator, port: int = 0) -> Iterator[Emulator]:
    """Serve ``emulator`` on 127.0.0.1 (``port``, default a free one); ``emulator.url`` is its
    base URL."""
    server = _Server(("127.0.0.1", port), _handler(emulator))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    emulator.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
