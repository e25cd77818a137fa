"""A real HTTP receiver on 127.0.0.1 (http.server in a thread) that records every request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next status in `statuses` (the last one repeats)."""

    url: str = ""
    statuses: list[int] = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    response_body: bytes = b'{"ok": true}'

    def respond_with(self, *statuses: int) -> None:
        self.statuses = list(statuses)

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                state.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = state.next_status()
            payload = state.response_body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/backroom"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _short_webhook_timeout(settings):
    settings.WEBHOOK_TIMEOUT = 3


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Dispatch the outbox as the worker would, running the sends queued after its commits.

    Inside the test transaction nothing commits, and `publish` asks for one dispatch per
    transaction (already asked for by the test's setup), so tests dispatch explicitly.
    """
    from backroom.events.services import dispatch_outbox

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return dispatch_outbox()

    return run
