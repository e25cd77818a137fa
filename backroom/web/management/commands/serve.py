"""`backroom serve`: the web server and the job worker together, for a laptop or a demo.

Both run as child processes: Django's `runserver` (no autoreload; with `--insecure` static
serving when DEBUG is off, so the demo still has its styles) and `backroom worker`. SIGINT and
SIGTERM are passed on to both; when either child exits the other is stopped and `serve` exits
with the first one's status. Production runs gunicorn/uvicorn and workers separately instead
(docs/decisions/0004-demo-server.md).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.2


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if `serve` itself is killed without a chance to forward."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def supervise(
    commands: dict[str, list[str]],
    *,
    out: TextIO | Any = sys.stdout,
    popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
) -> int:
    """Run the commands side by side until one exits or a stop signal arrives.

    Returns 0 after a signal, else the exit status of the first child to exit (1 when that
    child exited with 0 on its own: a server is not supposed to stop by itself).
    """
    received: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: dict[str, subprocess.Popen[bytes]] = {}
    status = 0
    try:
        for name, argv in commands.items():
            # Own session: a Ctrl-C in the terminal reaches `serve` alone, which passes it on once.
            children[name] = popen(argv, start_new_session=True, preexec_fn=_die_with_parent)
        while True:
            if received:
                stop_signal = received[0]
                break
            exited = [(name, child) for name, child in children.items() if child.poll() is not None]
            if exited:
                name, child = exited[0]
                status = child.returncode if child.returncode and child.returncode > 0 else 1
                out.write(f"{name} exited with status {child.returncode}; stopping the rest.\n")
                stop_signal = signal.SIGTERM
                break
            time.sleep(POLL_INTERVAL)
        _stop_all(children, stop_signal)
    finally:
        _stop_all(children, signal.SIGTERM)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _stop_all(children: dict[str, subprocess.Popen[bytes]], stop_signal: int) -> None:
    """Send the signal to every running child, wait a little, then kill what is left."""
    running = [child for child in children.values() if child.poll() is None]
    for child in running:
        child.send_signal(stop_signal)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in running:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def child_commands(host: str, port: int) -> dict[str, list[str]]:
    """The web server and worker command lines."""
    backroom = [sys.executable, "-m", "backroom"]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    web = [*backroom, "runserver", "--noreload", address]
    if ":" in host:
        web.append("--ipv6")
    if not settings.DEBUG:
        web.append("--insecure")
    # The worker logs warnings and errors only: the web server's request log is enough noise.
    return {"web": web, "worker": [*backroom, "worker", "--quiet"]}


class Command(BaseCommand):
    help = "Serve the web pages and API together with the job worker (laptop and demo use)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        shown_host = f"[{host}]" if ":" in host else host
        self.stdout.write(f"Backroom at http://{shown_host}:{port}/  (API docs: /api/docs)")
        self.stdout.write("Demo logins: run `backroom demo` (it seeds an empty database first).")
        self.stdout.write("Stop with Ctrl-C.")
        self.stdout.flush()
        status = supervise(child_commands(host, port), out=self.stdout)
        if status:
            raise CommandError(
                f"serve stopped: a child exited with status {status}", returncode=status
            )
