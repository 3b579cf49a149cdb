"""`conduit logs` against a real Caddy: requests made with curl through
the gateway show up, filtered and followed.

Caddy is started with `conduit up` and stopped in a cleanup; upstreams are
python3 http.server processes on 127.0.0.1; DNS is disabled (not needed).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import CONDUIT, free_port, wait_for as wait_until  # noqa: E402


class Logs(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cl")  # short: admin socket path
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state = os.path.join(self.dir, "s")
        self.https = free_port()
        r = self.conduit("init", "--listen", "127.0.0.1", "--https-port", str(self.https),
                         "--http-port", "0", "--dns-port", str(free_port()))
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg) as f:
            y = f.read()
        with open(cfg, "w") as f:
            f.write(re.sub(r"(\n  enabled:) \S+", r"\1 false", y))
        self.addCleanup(self.conduit, "down")
        r = self.conduit("up")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.up_port = free_port()
        www = os.path.join(self.dir, "www")
        os.mkdir(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("hello\n")
        p = subprocess.Popen([sys.executable, "-m", "http.server", str(self.up_port), "--bind",
                              "127.0.0.1", "--directory", www],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (p.kill(), p.wait()))
        self.assertTrue(wait_until(lambda: self.port_open(self.up_port), 5))
        for name in ("web", "api"):
            r = self.conduit("register", name, "--host", "127.0.0.1", "--port", str(self.up_port),
                             "--health", "/")
            self.assertEqual(r.returncode, 0, r.stderr)

    @staticmethod
    def port_open(port):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            return False

    def conduit(self, *args, timeout=60):
        return subprocess.run([CONDUIT, "--state-dir", self.state] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def get(self, name, path):
        host = "%s.internal" % name
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                            "--cacert", os.path.join(self.state, "pki", "root.crt"),
                            "--resolve", "%s:%d:127.0.0.1" % (host, self.https),
                            "https://%s:%d%s" % (host, self.https, path)],
                           capture_output=True, text=True, timeout=10)
        return r.stdout

    def access_log(self, name):
        return os.path.join(self.state, "logs", "access", name + ".log")

    def logged(self, name, n):
        def count():
            try:
                with open(self.access_log(name)) as f:
                    return sum(1 for _ in f) >= n
            except FileNotFoundError:
                return False
        self.assertTrue(wait_until(count, 5), "Caddy did not log %d requests for %s" % (n, name))

    def test_requests_show_up_filtered_and_merged(self):
        self.assertEqual(self.get("web", "/"), "200")
        self.assertEqual(self.get("api", "/missing-api"), "404")
        self.assertEqual(self.get("web", "/missing-web?q=1"), "404")
        self.logged("web", 2)
        self.logged("api", 1)

        r = self.conduit("logs", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1 +GET +"
                                   r"web\.internal:%d / 200 [\d.]+(us|ms|s) - \d+B$" % self.https)
        self.assertIn(" /missing-web?q=1 404 ", lines[1])

        r = self.conduit("logs", "web", "--status", "4xx")
        self.assertEqual([l.split()[4] for l in r.stdout.splitlines()], ["/missing-web?q=1"])
        r = self.conduit("logs", "web", "--status", "200", "-n", "5")
        self.assertEqual([l.split()[4] for l in r.stdout.splitlines()], ["/"])

        # All services, interleaved by time: api's request came between web's two.
        r = self.conduit("logs")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = [(l.split()[0], l.split()[5]) for l in r.stdout.splitlines()]
        self.assertEqual(got, [("web", "/"), ("api", "/missing-api"), ("web", "/missing-web?q=1")])
        r = self.conduit("logs", "-n", "1")
        self.assertEqual(len(r.stdout.splitlines()), 1)
        self.assertIn("/missing-web?q=1", r.stdout)

        # --json: Caddy's records, byte for byte.
        r = self.conduit("logs", "web", "--json")
        with open(self.access_log("web")) as f:
            self.assertEqual(r.stdout, f.read())
        for line in r.stdout.splitlines():
            self.assertEqual(json.loads(line)["msg"], "handled request")

        # --since in the future: nothing; a day back: everything.
        self.assertEqual(self.conduit("logs", "web", "--since", "2999-01-01").stdout, "")
        self.assertEqual(len(self.conduit("logs", "web", "--since", "1d").stdout.splitlines()), 2)

    def test_errors(self):
        r = self.conduit("logs", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn('no service named "nosuch"', r.stderr)
        r = self.conduit("register", "quiet", "--host", "127.0.0.1", "--port", "9", "--dns-only")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.conduit("logs", "quiet")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no access log for quiet", r.stderr)
        r = self.conduit("logs", "web", "--status", "7xx")
        self.assertEqual(r.returncode, 2)
        self.assertIn("7xx", r.stderr)
        r = self.conduit("logs", "web", "--since", "yesterday")
        self.assertEqual(r.returncode, 2)
        r = self.conduit("logs", "web", "--gateway")
        self.assertEqual(r.returncode, 2)

    def test_gateway_logs(self):
        r = self.conduit("logs", "--gateway", "-n", "50")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Caddy's own log names its admin endpoint on the unix socket.
        self.assertRegex(r.stdout, r"(?m)^caddy +\d{4}-\d\d-\d\dT.*admin")

    def test_follow_across_rotation(self):
        self.assertEqual(self.get("web", "/before"), "404")
        self.logged("web", 1)
        p = subprocess.Popen([CONDUIT, "--state-dir", self.state, "logs", "web", "-f", "-n", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        self.addCleanup(p.stdout.close)
        os.set_blocking(p.stdout.fileno(), False)
        out = []

        def saw(text):
            def check():
                try:
                    chunk = os.read(p.stdout.fileno(), 65536)
                except BlockingIOError:
                    chunk = b""
                out.append(chunk.decode())
                return text in "".join(out)
            return wait_until(check, 10)

        self.assertTrue(saw("/before"), "".join(out))
        self.assertEqual(self.get("web", "/live-one"), "404")
        self.assertTrue(saw("/live-one 404"), "".join(out))
        # Rotate the way a roller does: rename, then a new file at the
        # path.  A real record from Caddy goes into the new file.
        with open(self.access_log("web")) as f:
            real = f.read().splitlines()[-1]
        os.rename(self.access_log("web"), self.access_log("web") + ".1")
        with open(self.access_log("web"), "w") as f:
            f.write(real.replace("/live-one", "/after-rotation") + "\n")
        self.assertTrue(saw("/after-rotation 404"), "".join(out))
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=5), 0)
        self.assertEqual("".join(out).count("/live-one"), 1)


if __name__ == "__main__":
    unittest.main()
