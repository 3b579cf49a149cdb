"""`conduit status` through a real Caddy started by `conduit up`.

The gateway probe goes to https://NAME.DOMAIN:PORT/ verified against
conduit's own root CA, with the name pinned to the listen address; the
certificate's expiry comes from what Caddy served.
"""
import json
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import BlackHole, Upstream, free_port, run, wait_for  # noqa: E402

DOMAIN = "ai.internal"


class StatusGatewayTest(unittest.TestCase):
    def setUp(self):
        # Short path: Caddy's admin socket must fit in 108 bytes.
        self.tmp = tempfile.mkdtemp(prefix="cs")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.state = os.path.join(self.tmp, "s")
        self.https = free_port()
        self.conduit("init", "--domain", DOMAIN, "--listen", "127.0.0.1",
                     "--https-port", str(self.https), "--http-port", str(free_port()),
                     "--dns-port", str(free_port()), check=0)
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg) as f:
            y = f.read()
        y = re.sub(r"(\n  interval:) \S+", r"\1 300ms", y)
        y = re.sub(r"(\n  timeout:) \S+", r"\1 1s", y)
        y = re.sub(r"(\ndns:\n  enabled:) \S+", r"\1 false", y)
        with open(cfg, "w") as f:
            f.write(y)
        self.addCleanup(self.conduit, "down")

    def conduit(self, *args, check=None):
        return run(list(args), state=self.state, check=check)

    def status(self, *args, check=0):
        p = self.conduit("status", "--json", *args, check=check)
        doc = json.loads(p.stdout)
        return doc, {s["name"]: s for s in doc["services"]}

    def changes(self, name):
        with open(os.path.join(self.state, "audit.log")) as f:
            recs = [json.loads(l) for l in f if l.strip()]
        return [(r["details"]["previous"], r["details"]["current"]) for r in recs
                if r["action"] == "health_change" and r["details"]["name"] == name]

    def up(self):
        p = self.conduit("up")
        if p.returncode != 0:
            log = os.path.join(self.state, "logs", "caddy.log")
            tail = open(log).read()[-3000:] if os.path.exists(log) else ""
            self.fail("conduit up failed: %s\ncaddy.log: %s" % (p.stderr, tail))

    def wait_certs(self, *names):
        """Caddy issues its leaves after it loads the config: wait until
        each name completes a verified handshake (bounded)."""
        ctx = ssl.create_default_context(cafile=os.path.join(self.state, "pki", "root.crt"))

        def ready(name):
            try:
                with socket.create_connection(("127.0.0.1", self.https), 1) as sk:
                    with ctx.wrap_socket(sk, server_hostname="%s.%s" % (name, DOMAIN)):
                        return True
            except (OSError, ssl.SSLError):
                return False
        for n in names:
            self.assertTrue(wait_for(lambda: ready(n), 20), "no certificate for " + n)

    def register(self, name, port, *extra):
        self.conduit("register", name, "--host", "127.0.0.1", "--port", str(port),
                     "--no-reload", *extra, check=0)

    def test_states_through_the_gateway(self):
        good, bad, hole = Upstream("ok"), Upstream("no", status=500), BlackHole()
        for x in (good, bad, hole):
            self.addCleanup(x.stop)
        stopped = free_port()
        self.register("web", good.port)
        self.register("err", bad.port)
        self.register("hang", hole.port)
        self.register("half", good.port, "--upstream", "127.0.0.1:%d" % stopped)
        self.up()
        self.wait_certs("web", "err", "hang", "half")
        time.sleep(0.7)  # let Caddy's first active checks run
        t0 = time.monotonic()
        doc, s = self.status()
        self.assertLess(time.monotonic() - t0, 1.5 * 1.0 + 0.5)

        web = s["web"]
        self.assertEqual(web["health"], "healthy", web)
        self.assertTrue(web["gateway"]["ok"])
        self.assertEqual(web["gateway"]["http_status"], 200)
        self.assertEqual(web["gateway"]["target"], "https://web.%s:%d/" % (DOMAIN, self.https))
        self.assertEqual(web["url"], "https://web.%s:%d/" % (DOMAIN, self.https))
        # The served leaf: valid now, from Caddy's internal issuer.
        not_after = time.mktime(time.strptime(web["cert"]["not_after"],
                                              "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        self.assertGreater(not_after, time.time())
        self.assertLess(not_after, time.time() + 400 * 86400)
        self.assertFalse(web["cert"]["expired"])
        self.assertIsNone(web["cert"]["error"])

        self.assertEqual(s["err"]["health"], "down")
        self.assertFalse(s["err"]["gateway"]["ok"])
        self.assertEqual(s["hang"]["health"], "down")
        self.assertEqual(s["half"]["health"], "degraded")
        self.assertEqual((s["half"]["upstreams_up"], s["half"]["upstreams_total"]), (1, 2))

        p = self.conduit("status", "--check", check=1)
        for name, state in (("err", "down"), ("hang", "down"), ("half", "degraded")):
            self.assertIn("%s (%s)" % (name, state), p.stderr)
        self.assertNotIn("web (", p.stderr)
        self.conduit("status", "--check", "--service", "web", check=0)

        table = self.conduit("status", check=0).stdout
        row = next(l for l in table.splitlines() if l.startswith("web "))
        self.assertRegex(row, r"\d{4}-\d\d-\d\d \(\d+[hd]\)")

    def test_outage_and_recovery_through_the_gateway(self):
        port = free_port()
        up = Upstream("ok", port=port)
        self.register("web", port)
        self.up()
        self.wait_certs("web")
        time.sleep(0.7)
        doc, s = self.status()
        self.assertEqual(s["web"]["health"], "healthy", s["web"])
        self.assertEqual(self.changes("web"), [("unknown", "healthy")])

        up.stop()
        doc, s = self.status()
        self.assertEqual((s["web"]["health"], s["web"]["pending"]), ("healthy", "down"))
        doc, s = self.status()
        self.assertEqual(s["web"]["health"], "down")
        self.assertEqual(self.changes("web"), [("unknown", "healthy"), ("healthy", "down")])

        up = Upstream("ok", port=port)
        self.addCleanup(up.stop)
        seen = []
        for _ in range(8):
            doc, s = self.status()
            seen.append(s["web"]["observed"])
            if s["web"]["health"] == "healthy":
                break
            time.sleep(0.4)
        self.assertEqual(s["web"]["health"], "healthy", seen)
        # passes = 2: never healthy on the first good result
        self.assertGreaterEqual(len(seen), 2)
        ch = self.changes("web")
        self.assertEqual(ch[:2], [("unknown", "healthy"), ("healthy", "down")])
        self.assertEqual(ch[-1][1], "healthy")
        # each record starts where the previous one ended: none twice
        for a, b in zip(ch, ch[1:]):
            self.assertEqual(a[1], b[0])
        n = len(ch)
        self.status()
        self.assertEqual(len(self.changes("web")), n)


if __name__ == "__main__":
    unittest.main()
