"""`conduit status` against real servers on loopback.

Upstreams are real HTTP servers (healthy, answering 500), stopped ports,
and sockets that accept connections and never answer.  DNS checks go to
a real dnsmasq started by the test.  Routes through the gateway are
covered in test_status_gateway.py (real Caddy).
"""
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import (CONDUIT, BlackHole, StateDirTest, Upstream,  # noqa: E402
                             free_port, wait_for)


def set_yaml(state, section, key, value):
    """Rewrites `key:` inside `section:` of conduit.yaml."""
    path = os.path.join(state, "conduit.yaml")
    with open(path) as f:
        lines = f.read().split("\n")
    cur = None
    for i, line in enumerate(lines):
        if line and not line.startswith(" ") and line.endswith(":"):
            cur = line[:-1]
        elif cur == section and line.strip().startswith(key + ":"):
            indent = line[:len(line) - len(line.lstrip())]
            lines[i] = "%s%s: %s" % (indent, key, value)
            break
    else:
        raise AssertionError("no %s.%s in conduit.yaml" % (section, key))
    with open(path, "w") as f:
        f.write("\n".join(lines))


class StatusTest(StateDirTest):
    def setUp(self):
        super().setUp()
        set_yaml(self.state, "dns", "enabled", "false")

    def register(self, name, port, *extra):
        self.conduit("register", name, "--host", "127.0.0.1", "--port", str(port),
                     "--no-reload", *extra, check=0)

    def status_json(self, *args, check=0):
        p = self.conduit("status", "--json", *args, check=check)
        doc = json.loads(p.stdout)
        return doc, {s["name"]: s for s in doc["services"]}

    def health_changes(self):
        return [r for r in self.audit_records() if r["action"] == "health_change"]

    def upstream(self, status=200):
        u = Upstream("ok", status=status)
        self.addCleanup(u.stop)
        return u

    def black_hole(self):
        b = BlackHole()
        self.addCleanup(b.stop)
        return b

    # -- states -------------------------------------------------------------

    def test_states_of_real_upstreams(self):
        good, bad, hole = self.upstream(), self.upstream(500), self.black_hole()
        stopped = free_port()
        self.register("good", good.port, "--health", "/healthz")
        self.register("err", bad.port)
        self.register("hang", hole.port)
        self.register("gone", stopped)
        self.register("half", good.port, "--upstream", "127.0.0.1:%d" % stopped)
        self.register("db", good.port, "--dns-only")
        self.register("dbgone", stopped, "--dns-only")
        t0 = time.monotonic()
        doc, s = self.status_json("--timeout", "1")
        elapsed = time.monotonic() - t0
        # One timeout for everything, not one per hanging service.
        self.assertLess(elapsed, 1.5, "status took %.2fs" % elapsed)

        # No gateway runs here: a service reachable only directly is degraded.
        self.assertEqual(s["good"]["health"], "degraded")
        self.assertEqual(s["good"]["upstreams"][0]["http_status"], 200)
        self.assertTrue(s["good"]["upstreams"][0]["target"].endswith("/healthz"))
        self.assertFalse(s["good"]["gateway"]["ok"])
        self.assertEqual(s["err"]["health"], "down")
        self.assertEqual(s["err"]["upstreams"][0]["http_status"], 500)
        self.assertIn("500", s["err"]["upstreams"][0]["error"])
        self.assertEqual(s["hang"]["health"], "down")
        self.assertIn("timed out", s["hang"]["upstreams"][0]["error"].lower())
        self.assertGreaterEqual(s["hang"]["upstreams"][0]["latency_ms"], 900)
        self.assertEqual(s["gone"]["health"], "down")
        self.assertEqual(s["half"]["upstreams_up"], 1)
        self.assertEqual(s["half"]["upstreams_total"], 2)
        self.assertEqual(s["half"]["health"], "degraded")
        # dns-only: a TCP connect, no route, no certificate.
        self.assertEqual(s["db"]["health"], "healthy")
        self.assertEqual(s["db"]["upstreams"][0]["kind"], "tcp")
        self.assertIsNone(s["db"]["gateway"])
        self.assertIsNone(s["db"]["cert"])
        self.assertIsNone(s["db"]["url"])
        self.assertEqual(s["dbgone"]["health"], "down")
        self.assertEqual(bad.hits, 1)
        self.assertEqual(doc["summary"]["total"], 7)
        self.assertEqual(doc["summary"]["healthy"], 1)
        self.assertEqual(doc["summary"]["down"], 4)
        self.assertEqual(sorted(doc["summary"]["not_healthy"]),
                         ["dbgone", "err", "gone", "good", "half", "hang"])
        # the stored health follows (first result taken directly)
        stored = {r["name"]: r for r in json.loads(self.services_json())["services"]}
        self.assertEqual(stored["err"]["health"], "down")
        self.assertEqual(stored["db"]["health"], "healthy")

    def test_table_names_columns_and_problems(self):
        good = self.upstream()
        self.register("web", good.port)
        self.register("db", free_port(), "--dns-only")
        p = self.conduit("status", "--timeout", "1", check=0)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(),
                         ["NAME", "URL", "UPSTREAMS", "HEALTH", "LATENCY", "CERT", "DNS"])
        self.assertNotIn("\033", p.stdout)  # not a TTY: no colour
        web = next(l for l in lines if l.startswith("web "))
        self.assertIn("https://web.internal:%d/" % self.https_port, web)
        self.assertIn("1/1", web)
        db = next(l for l in lines if l.startswith("db "))
        self.assertIn("0/1", db)
        self.assertIn("down", db)
        self.assertRegex(p.stdout, r"db: upstream 127\.0\.0\.1:\d+: .*")

    # -- --check ------------------------------------------------------------

    def test_check_exit_codes(self):
        good = self.upstream()
        self.register("a", good.port, "--dns-only")
        self.register("b", good.port, "--dns-only")
        p = self.conduit("status", "--check", check=0)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr, "")
        gone = free_port()
        self.register("c", gone, "--dns-only")
        p = self.conduit("status", "--check", check=1)
        self.assertIn("c (down)", p.stderr)
        self.assertNotIn("a (", p.stderr)
        # --service limits the verdict to that service
        self.conduit("status", "--check", "--service", "a", check=0)
        p = self.conduit("status", "--check", "--service", "nope", check=1)
        self.assertIn('no active service named "nope"', p.stderr)

    def test_check_counts_degraded_as_failure(self):
        good = self.upstream()
        self.register("web", good.port)   # degraded: no gateway running
        p = self.conduit("status", "--check", "--timeout", "1", check=1)
        self.assertIn("web (degraded)", p.stderr)

    # -- damping and health_change -----------------------------------------

    def test_health_change_once_per_transition_and_recovery(self):
        port = free_port()
        self.register("db", port, "--dns-only")
        self.conduit("status", "--check", check=1)
        ch = self.health_changes()
        self.assertEqual(len(ch), 1)
        self.assertEqual(ch[0]["details"],
                         {"name": "db", "previous": "unknown", "current": "down",
                          "checked_at": ch[0]["details"]["checked_at"]})
        self.assertRegex(ch[0]["details"]["checked_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # no change, no record
        self.conduit("status", check=0)
        self.conduit("status", check=0)
        self.assertEqual(len(self.health_changes()), 1)

        # The upstream comes back: passes (default 2) results needed.
        up = Upstream("ok", port=port)
        self.addCleanup(up.stop)
        doc, s = self.status_json()
        self.assertEqual(s["db"]["observed"], "healthy")
        self.assertEqual(s["db"]["health"], "down")
        self.assertEqual(s["db"]["pending"], "healthy")
        self.assertEqual(s["db"]["streak"], 1)
        self.assertEqual(len(self.health_changes()), 1)
        doc, s = self.status_json()
        self.assertEqual(s["db"]["health"], "healthy")
        self.assertTrue(s["db"]["changed"])
        self.assertEqual(s["db"]["previous"], "down")
        self.conduit("status", "--check", check=0)
        ch = self.health_changes()
        self.assertEqual(len(ch), 2)
        self.assertEqual((ch[1]["details"]["previous"], ch[1]["details"]["current"]),
                         ("down", "healthy"))
        self.assertEqual(ch[1]["message"], "Service db health changed: down -> healthy")

        # Going down needs `fails` consecutive failures.
        up.stop()
        doc, s = self.status_json()
        self.assertEqual(s["db"]["health"], "healthy")
        self.assertEqual(s["db"]["pending"], "down")
        doc, s = self.status_json()
        self.assertEqual(s["db"]["health"], "down")
        self.assertEqual(len(self.health_changes()), 3)

    def test_per_service_thresholds_from_settings(self):
        set_yaml(self.state, "health", "passes", "3")
        port = free_port()
        self.register("db", port, "--dns-only")
        self.conduit("status", check=0)
        up = Upstream("ok", port=port)
        self.addCleanup(up.stop)
        for want in ("down", "down", "healthy"):
            doc, s = self.status_json()
            self.assertEqual(s["db"]["health"], want)
            self.assertEqual(s["db"]["passes"], 3)

    def test_concurrent_runs_record_a_transition_once(self):
        port = free_port()
        for i in range(5):
            self.register("s%d" % i, port, "--dns-only")
        procs = [subprocess.Popen([CONDUIT, "--state-dir", self.state, "status"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for _ in range(6)]
        for p in procs:
            p.wait(timeout=60)
            err = p.stderr.read()
            p.stderr.close()
            self.assertEqual(p.returncode, 0, err)
        ch = self.health_changes()
        self.assertEqual(sorted(r["details"]["name"] for r in ch),
                         ["s0", "s1", "s2", "s3", "s4"])

    def test_deregistered_services_are_not_probed(self):
        good = self.upstream()
        self.register("a", good.port, "--dns-only")
        self.register("b", good.port, "--dns-only")
        self.conduit("deregister", "b", "--no-reload", check=0)
        doc, s = self.status_json()
        self.assertEqual(sorted(s), ["a"])

    # -- DNS through a real dnsmasq ----------------------------------------

    def start_dnsmasq(self, records):
        port = free_port(kind=socket.SOCK_DGRAM)
        args = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--bind-interfaces",
                "--listen-address=127.0.0.1", "--port=%d" % port, "--user=root",
                "--pid-file=" + os.path.join(self.tmp, "dnsmasq.pid")]
        args += ["--address=/%s/%s" % (n, a) for n, a in records.items()]
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(p.stderr.close)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.terminate)

        def answering():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        self.assertTrue(wait_for(answering, 10), "dnsmasq did not start")
        return port

    def test_dns_probe_through_real_dnsmasq(self):
        good = self.upstream()
        port = self.start_dnsmasq({"db.internal": "127.0.0.1",
                                   "web.internal": "127.0.0.1",
                                   "stale.internal": "127.0.0.9"})
        set_yaml(self.state, "dns", "enabled", "true")
        path = os.path.join(self.state, "conduit.yaml")
        with open(path) as f:
            cfg = f.read()
        with open(path, "w") as f:
            f.write(re.sub(r"(?m)^dns_port: \d+", "dns_port: %d" % port, cfg))
        self.register("db", good.port, "--dns-only")
        self.register("web", good.port)
        self.register("stale", good.port, "--dns-only")
        self.register("missing", good.port, "--dns-only")
        doc, s = self.status_json()
        self.assertEqual(doc["dns_port"], port)
        self.assertTrue(s["db"]["dns"]["ok"], s["db"]["dns"])
        self.assertEqual(s["db"]["dns"]["answer"], "127.0.0.1")
        self.assertTrue(s["web"]["dns"]["ok"], s["web"]["dns"])
        self.assertFalse(s["stale"]["dns"]["ok"])
        self.assertIn("expected 127.0.0.1", s["stale"]["dns"]["error"])
        self.assertFalse(s["missing"]["dns"]["ok"])
        self.assertTrue(s["missing"]["dns"]["error"])
        p = self.conduit("status", check=0)
        db = next(l for l in p.stdout.splitlines() if l.startswith("db "))
        self.assertTrue(db.rstrip().endswith("ok"), db)

    def test_dns_server_not_running_fails_fast(self):
        set_yaml(self.state, "dns", "enabled", "true")
        good = self.upstream()
        self.register("db", good.port, "--dns-only")
        t0 = time.monotonic()
        doc, s = self.status_json("--timeout", "3")
        self.assertLess(time.monotonic() - t0, 2.5)
        self.assertFalse(s["db"]["dns"]["ok"])
        self.assertIn("refused", s["db"]["dns"]["error"])
        # DNS is reported, but does not decide health.
        self.assertEqual(s["db"]["health"], "healthy")

    # -- options ------------------------------------------------------------

    def test_bad_options(self):
        p = self.conduit("status", "--timeout", "soon", check=1)
        self.assertIn("--timeout", p.stderr)
        self.conduit("status", "--timeout", "0", check=1)
        self.conduit("status", "--watch", "--json", check=2)
        self.conduit("status", "extra", check=2)
        self.conduit("status", "--watch=0", check=2)

    def test_watch_redraws_on_a_tty_until_interrupted(self):
        good = self.upstream()
        self.register("db", good.port, "--dns-only")
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(CONDUIT, [CONDUIT, "--state-dir", self.state, "status", "--watch", "1"])
        out = b""
        end = time.monotonic() + 15
        try:
            while out.count(b"\033[2J") < 2 and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        break
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 10
            status = None
            while time.monotonic() < deadline:
                wpid, status = os.waitpid(pid, os.WNOHANG)
                if wpid == pid:
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.fail("status --watch did not stop on SIGINT")
        finally:
            os.close(fd)
        self.assertGreaterEqual(out.count(b"\033[2J"), 2, out[-500:])
        self.assertIn(b"\033[32m", out)  # colour on a TTY
        self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status)


if __name__ == "__main__":
    unittest.main()
