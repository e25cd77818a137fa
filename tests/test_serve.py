"""`backroom serve`: web server and worker as children, stopped together."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backroom.web.management.commands import serve

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _alive(process):
    return process.poll() is None


@pytest.fixture
def spawned(monkeypatch):
    """Record the children `supervise` starts."""
    children = []

    def popen(argv, **kwargs):
        child = subprocess.Popen(argv, **kwargs)
        children.append(child)
        return child

    monkeypatch.setattr(serve, "STOP_TIMEOUT", 5.0)
    monkeypatch.setattr(serve, "POLL_INTERVAL", 0.05)
    yield children, popen
    for child in children:
        if _alive(child):
            child.kill()
            child.wait()


def test_when_one_child_exits_the_other_is_stopped(spawned):
    children, popen = spawned
    out = StringIO()
    started = time.monotonic()
    status = serve.supervise(
        {"web": SLEEPER, "worker": [sys.executable, "-c", "raise SystemExit(3)"]},
        out=out,
        popen=popen,
    )
    assert status == 3
    assert time.monotonic() - started < 10
    assert "worker exited with status 3" in out.getvalue()
    assert not any(_alive(child) for child in children)
    assert children[0].returncode == -signal.SIGTERM


def test_a_child_that_stops_cleanly_still_stops_serve_with_an_error(spawned):
    _children, popen = spawned
    status = serve.supervise(
        {"web": [sys.executable, "-c", "pass"], "worker": SLEEPER}, out=StringIO(), popen=popen
    )
    assert status == 1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_is_passed_on_and_serve_exits_cleanly(spawned, signum):
    children, popen = spawned
    previous = signal.getsignal(signum)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signum))
    timer.start()
    try:
        status = serve.supervise({"web": SLEEPER, "worker": SLEEPER}, out=StringIO(), popen=popen)
    finally:
        timer.cancel()
    assert status == 0
    assert len(children) == 2
    assert [child.returncode for child in children] == [-signum, -signum]
    assert signal.getsignal(signum) is previous


def test_child_commands_run_runserver_without_reload_and_the_worker(settings):
    settings.DEBUG = True
    commands = serve.child_commands("127.0.0.1", 8123)
    assert commands["web"] == [
        sys.executable,
        "-m",
        "backroom",
        "runserver",
        "--noreload",
        "127.0.0.1:8123",
    ]
    assert commands["worker"] == [sys.executable, "-m", "backroom", "worker", "--quiet"]


def test_without_debug_static_files_are_served_insecurely(settings):
    settings.DEBUG = False
    assert serve.child_commands("0.0.0.0", 80)["web"][-1] == "--insecure"
    web = serve.child_commands("::1", 8000)["web"]
    assert "[::1]:8000" in web
    assert "--ipv6" in web


def test_serve_prints_the_url_and_the_demo_hint(monkeypatch, settings):
    settings.DEBUG = True
    seen = {}

    def fake_supervise(commands, *, out):
        seen.update(commands)
        return 0

    monkeypatch.setattr(serve, "supervise", fake_supervise)
    out = StringIO()
    call_command("serve", "--port", "8124", stdout=out)
    assert "http://127.0.0.1:8124/" in out.getvalue()
    assert "backroom demo" in out.getvalue()
    assert seen["web"][-1] == "127.0.0.1:8124"


def test_serve_fails_with_the_child_status(monkeypatch):
    monkeypatch.setattr(serve, "supervise", lambda commands, *, out: 4)
    with pytest.raises(CommandError) as error:
        call_command("serve", stdout=StringIO())
    assert error.value.returncode == 4


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_serve_answers_http_and_stops_on_sigterm(tmp_path):
    """The real thing: both children start, pages answer, SIGTERM stops everything with 0.

    The sign-in page and the OpenAPI document need no tables, so the database is left empty
    (migrating it would double the test's time); the demo path with data is `make demo`.
    """
    env = {
        **os.environ,
        "DEBUG": "1",
        "BACKROOM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'backroom.sqlite3'}",
        "REDIS_URL": "",
        "HUEY_IMMEDIATE": "0",
    }
    env.pop("BACKROOM_TESTING", None)
    backroom = [sys.executable, "-m", "backroom"]
    port = _free_port()
    server = subprocess.Popen(
        [*backroom, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while _get(f"{base}/login/") != 200 and time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read().decode()
            time.sleep(0.2)
        assert _get(f"{base}/login/") == 200
        assert _get(f"{base}/api/openapi.json") == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
        output = server.stdout.read().decode()
        assert f"Backroom at http://127.0.0.1:{port}/" in output
        assert "Worker consuming the SqliteHuey queue" in output
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
