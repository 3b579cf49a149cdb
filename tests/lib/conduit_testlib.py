"""Shared helpers for conduit's integration and CLI tests.

Every test gets its own state directory and its own free loopback ports,
so the suite can run in parallel (ctest -j) without collisions.  Helpers
that start processes register their cleanup with the TestCase, so a
failing test never leaves a daemon behind.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONDUIT = os.environ.get("CONDUIT_BIN", "conduit")
SHARED = os.environ.get("CONDUIT_SHARED_DIR", os.path.join(os.path.dirname(__file__), "../../../shared"))
SOURCE = os.environ.get("CONDUIT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


def free_port(host="127.0.0.1", kind=socket.SOCK_STREAM):
    """A port that is free right now on host (TCP and UDP both checked)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s2:
                s2.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found")


def run(args, state=None, check=None, input=None, env=None, timeout=60):
    """Runs conduit with args; returns CompletedProcess (text)."""
    cmd = [CONDUIT]
    if state is not None:
        cmd += ["--state-dir", state]
    cmd += list(args)
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, input=input, env=e, timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError("conduit %s: exit %d, want %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, check, p.stdout, p.stderr))
    return p


class StateDirTest(unittest.TestCase):
    """A TestCase with a fresh, initialised state directory per test."""

    init_args = []

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="conduit-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.state = os.path.join(self.tmp, "state")
        self.https_port = free_port()
        self.http_port = free_port()
        self.dns_port = free_port(kind=socket.SOCK_DGRAM)
        run(["init", "--listen", "127.0.0.1", "--https-port", str(self.https_port),
             "--http-port", str(self.http_port), "--dns-port", str(self.dns_port)]
            + list(self.init_args), state=self.state, check=0)

    def conduit(self, *args, check=None, **kw):
        return run(list(args), state=self.state, check=check, **kw)

    def audit_records(self):
        path = os.path.join(self.state, "audit.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def services_json(self):
        with open(os.path.join(self.state, "services.json"), "rb") as f:
            return f.read()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.hits += 1
        code = srv.status_code
        body = (srv.body + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Upstream:
    """A real HTTP server on 127.0.0.1 answering every GET with body."""

    def __init__(self, body, status=200, host="127.0.0.1", port=0):
        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.body = body
        self.server.status_code = status
        self.server.hits = 0
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def hits(self):
        return self.server.hits

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """Accepts TCP connections on 127.0.0.1 and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]

    def stop(self):
        self.sock.close()


def wait_for(pred, timeout=10.0, step=0.05):
    """Polls pred() until true or timeout; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)
