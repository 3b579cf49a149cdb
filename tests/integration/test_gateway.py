"""End to end through a real Caddy: register, route, health, certs.

Every test has its own state dir, ports picked by binding port 0, and
upstreams that are real python3 http.server processes on 127.0.0.1.
Caddy is started with `conduit up` and stopped with `conduit down` in a
cleanup that runs even when the test fails.  Only loopback is contacted.
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

CONDUIT = os.environ.get("CONDUIT_BIN", "conduit")
DOMAIN = "ai.internal"   # two labels, so *.ai.internal is a valid wildcard

UPSTREAM = r"""
import http.server, sys
name = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("upstream %s svc=%s fwd_host=%s fwd_proto=%s\n" % (
            name, self.headers.get("X-Conduit-Service"),
            self.headers.get("X-Forwarded-Host"),
            self.headers.get("X-Forwarded-Proto"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


class Gateway(unittest.TestCase):
    def setUp(self):
        # Short path: the admin socket must fit in 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="cg")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state = os.path.join(self.dir, "s")
        self.https = free_port()
        self.http = free_port()
        r = self.conduit("init", "--domain", DOMAIN, "--listen", "127.0.0.1",
                         "--https-port", str(self.https), "--http-port",
                         str(self.http), "--dns-port", str(free_port()))
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg) as f:
            y = f.read()
        y = re.sub(r"(\n  interval:) \S+", r"\1 300ms", y)
        y = re.sub(r"(\n  timeout:) \S+", r"\1 250ms", y)
        y = re.sub(r"(\n  enabled:) \S+", r"\1 false", y)  # dns: not here
        with open(cfg, "w") as f:
            f.write(y)
        self.root = os.path.join(self.state, "pki", "root.crt")
        self.addCleanup(self.conduit, "down")

    def conduit(self, *args):
        return subprocess.run([CONDUIT, "--state-dir", self.state] + list(args),
                              capture_output=True, text=True, timeout=60)

    def up(self):
        r = self.conduit("up")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def upstream(self, name, port=None):
        port = port or free_port()
        p = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(port), name],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.kill, p)
        self.assertTrue(wait_until(lambda: self.port_open(port), 5))
        return p, port

    @staticmethod
    def kill(p):
        if p.poll() is None:
            p.kill()
            p.wait()

    @staticmethod
    def port_open(port):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            return False

    def get(self, name, path="/", cacert=None):
        host = "%s.%s" % (name, DOMAIN)
        r = subprocess.run(
            ["curl", "-s", "--max-time", "5", "--cacert", cacert or self.root,
             "--resolve", "%s:%d:127.0.0.1" % (host, self.https),
             "-w", "\n%{http_code}", "https://%s:%d%s" % (host, self.https, path)],
            capture_output=True, text=True, timeout=10)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body

    def served_cert(self, name):
        """The leaf Caddy serves for name, as `openssl x509` sees it."""
        s = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.https,
             "-servername", "%s.%s" % (name, DOMAIN)],
            input="", capture_output=True, text=True, timeout=10)
        x = subprocess.run(["openssl", "x509", "-noout", "-serial",
                            "-fingerprint", "-sha256"], input=s.stdout,
                           capture_output=True, text=True, timeout=10)
        serial = re.search(r"serial=(\S+)", x.stdout).group(1)
        fp = re.search(r"Fingerprint=(\S+)", x.stdout).group(1)
        return serial.upper(), fp.upper()

    def audit(self):
        with open(os.path.join(self.state, "audit.log")) as f:
            return [json.loads(l) for l in f if l.strip()]

    # ------------------------------------------------------------------

    def test_register_routes_then_deregister_stops(self):
        self.up()
        _, port = self.upstream("A")
        r = self.conduit("register", "web", "--host", "127.0.0.1", "--port",
                         str(port), "--alias", "www")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: self.get("web")[0] == 200, 10))
        code, body = self.get("web")
        self.assertIn("upstream A", body)
        self.assertIn("svc=web", body)
        self.assertIn("fwd_host=web.%s" % DOMAIN, body)
        self.assertIn("fwd_proto=https", body)
        self.assertTrue(wait_until(lambda: self.get("www")[0] == 200, 10))

        # Unknown names: a clear 404 over a valid certificate.
        code, body = self.get("nosuch")
        self.assertEqual(code, 404)
        self.assertIn("no service is registered as nosuch.%s" % DOMAIN, body)

        # Plain HTTP redirects to HTTPS on the configured port.
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                            "%{http_code} %{redirect_url}", "-H",
                            "Host: web.%s" % DOMAIN,
                            "http://127.0.0.1:%d/x?y=1" % self.http],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.stdout, "308 https://web.%s:%d/x?y=1"
                         % (DOMAIN, self.https))

        with open(os.path.join(self.state, "logs", "access", "web.log")) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        self.assertTrue(any(l["request"]["host"].startswith("web.")
                            for l in lines))
        with open(os.path.join(self.state, "caddy", "caddy.json")) as f:
            self.assertIn("web.%s" % DOMAIN, f.read())

        r = self.conduit("deregister", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        code, body = self.get("web")
        self.assertEqual(code, 404)
        self.assertIn("no service is registered", body)
        with open(os.path.join(self.state, "caddy", "caddy.json")) as f:
            self.assertNotIn('"web.%s"' % DOMAIN, f.read())

    def test_two_upstreams_and_health_checks(self):
        self.up()
        pa, porta = self.upstream("A")
        pb, portb = self.upstream("B")
        r = self.conduit("register", "llm", "--host", "127.0.0.1", "--port",
                         str(porta), "--upstream", "127.0.0.1:%d" % portb)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: self.get("llm")[0] == 200, 10))
        seen = set()
        for _ in range(12):
            code, body = self.get("llm")
            self.assertEqual(code, 200)
            seen.add(body.split()[1])
        self.assertEqual(seen, {"A", "B"})

        # B dies: the health check takes it out, A serves everything.
        self.kill(pb)
        time.sleep(1.0)
        bodies = [self.get("llm") for _ in range(6)]
        self.assertTrue(all(c == 200 and "upstream A" in b for c, b in bodies),
                        bodies)

        # A dies too: nothing healthy is left, Caddy answers 503.
        self.kill(pa)
        self.assertTrue(wait_until(lambda: self.get("llm")[0] == 503, 10))

        # A comes back on its port: the active check brings it in again.
        self.upstream("A", porta)
        self.assertTrue(wait_until(lambda: self.get("llm")[0] == 200, 10))
        self.assertIn("upstream A", self.get("llm")[1])

    def test_gateway_down_register_fails_and_changes_nothing(self):
        r = self.up()
        self.assertIn("caddy: started", r.stdout)
        r = self.up()
        self.assertIn("caddy: already running", r.stdout)
        _, port = self.upstream("A")
        self.assertEqual(self.conduit("register", "a", "--host", "127.0.0.1",
                                      "--port", str(port)).returncode, 0)
        r = self.conduit("down")
        self.assertIn("caddy: stopped", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.state, "run",
                                                     "caddy.pid")))
        files = {}
        for rel in ("services.json", "caddy/caddy.json"):
            with open(os.path.join(self.state, rel), "rb") as f:
                files[rel] = f.read()

        r = self.conduit("register", "b", "--host", "127.0.0.1", "--port",
                         str(port))
        self.assertEqual(r.returncode, 1)
        self.assertIn("gateway not running at %s" % os.path.join(
            self.state, "run", "caddy-admin.sock"), r.stderr)
        self.assertIn("conduit up", r.stderr)
        for rel, data in files.items():
            with open(os.path.join(self.state, rel), "rb") as f:
                self.assertEqual(f.read(), data, rel)
        last = self.audit()[-1]
        self.assertEqual((last["action"], last["status"]),
                         ("service_register", "failure"))

        # --no-reload writes the files and contacts nothing.
        r = self.conduit("register", "b", "--host", "127.0.0.1", "--port",
                         str(port), "--no-reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.state, "caddy", "caddy.json")) as f:
            self.assertIn("b.%s" % DOMAIN, f.read())

        # up loads what was registered meanwhile.
        self.up()
        self.assertTrue(wait_until(lambda: self.get("b")[0] == 200, 10))

    def test_caddy_refusing_the_config_changes_nothing(self):
        """Caddy answers 400 (here: it cannot bind the new HTTPS port,
        held by another socket): register fails with Caddy's own text,
        nothing changes, and the old routes keep serving."""
        self.up()
        _, port = self.upstream("A")
        self.assertEqual(self.conduit("register", "a", "--host", "127.0.0.1",
                                      "--port", str(port)).returncode, 0)
        self.assertTrue(wait_until(lambda: self.get("a")[0] == 200, 10))
        blocker = socket.socket()  # no SO_REUSEPORT: Caddy cannot share it
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg) as f:
            y = f.read()
        with open(cfg, "w") as f:
            f.write(re.sub(r"\nhttps_port: \d+", "\nhttps_port: %d"
                           % blocker.getsockname()[1], y))
        files = {}
        for rel in ("services.json", "caddy/caddy.json"):
            with open(os.path.join(self.state, rel), "rb") as f:
                files[rel] = f.read()
        n_audit = len(self.audit())

        r = self.conduit("register", "b", "--host", "127.0.0.1", "--port", str(port))
        self.assertEqual(r.returncode, 1)
        self.assertIn("Caddy refused the config", r.stderr)
        self.assertIn("address already in use", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        for rel, data in files.items():
            with open(os.path.join(self.state, rel), "rb") as f:
                self.assertEqual(f.read(), data, rel)
        recs = self.audit()[n_audit:]
        self.assertEqual([(x["action"], x["status"]) for x in recs],
                         [("service_register", "failure")])
        self.assertIn("address already in use", recs[0]["message"])
        # The old configuration keeps serving on the old port.
        self.assertEqual(self.get("a")[0], 200)

    def test_stale_pid_file_and_socket_after_crash(self):
        self.up()
        pidfile = os.path.join(self.state, "run", "caddy.pid")
        with open(pidfile) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not os.path.exists(
            "/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z", 5))
        self.assertTrue(os.path.exists(os.path.join(self.state, "run",
                                                    "caddy-admin.sock")))
        r = self.up()
        self.assertIn("caddy: started", r.stdout)
        with open(pidfile) as f:
            self.assertNotEqual(int(f.read()), pid)

        # A pid file naming some other program is never signalled.
        self.conduit("down")
        sleeper = subprocess.Popen(["sleep", "30"])
        self.addCleanup(self.kill, sleeper)
        with open(pidfile, "w") as f:
            f.write("%d\n" % sleeper.pid)
        r = self.conduit("down")
        self.assertIn("caddy: not running", r.stdout)
        self.assertIsNone(sleeper.poll())
        self.assertFalse(os.path.exists(pidfile))

    def test_torn_leaf_in_caddys_storage_is_reissued(self):
        """Caddy killed while writing a certificate leaves a torn file; the
        next `up` must not fail on it ("decoding certificate metadata")."""
        _, port = self.upstream("alpha")
        self.up()
        r = self.conduit("register", "alpha", "--host", "127.0.0.1", "--port", str(port))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: self.get("alpha")[0] == 200, 10))
        self.conduit("down")
        host = "alpha.%s" % DOMAIN
        leaf = None
        for root, _, files in os.walk(os.path.join(self.state, "caddy")):
            if host + ".json" in files:
                leaf = root
        self.assertIsNotNone(leaf, "Caddy stored no leaf for %s" % host)
        open(os.path.join(leaf, host + ".json"), "w").close()  # torn: empty
        self.up()
        self.assertTrue(wait_until(lambda: self.get("alpha")[0] == 200, 10),
                        self.get("alpha"))
        self.assertTrue(self.get("alpha")[1].startswith("upstream alpha "))

    def test_certs_list_inspect_rotate_ca_trust(self):
        self.up()
        _, port = self.upstream("A")
        self.assertEqual(self.conduit("register", "web", "--host", "127.0.0.1",
                                      "--port", str(port)).returncode, 0)
        self.assertTrue(wait_until(lambda: self.get("web")[0] == 200, 10))
        serial, fp = self.served_cert("web")

        r = self.conduit("certs", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        leaves = {l["service"]: l for l in json.loads(r.stdout)}
        web = leaves["web"]
        self.assertEqual(web["names"], ["web.%s" % DOMAIN])
        self.assertEqual(web["key_type"], "ECDSA P-256")
        self.assertEqual(web["serial"], serial)
        self.assertEqual(web["sha256"], fp)
        self.assertIn("conduit intermediate", web["issuer"])
        self.assertRegex(web["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(0 < web["days_left"] <= 1.0)
        table = self.conduit("certs").stdout
        self.assertRegex(table, r"web\s+web\.ai\.internal\s+ECDSA P-256\s+"
                         r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")

        r = self.conduit("certs", "inspect", "web", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ins = json.loads(r.stdout)
        self.assertEqual(ins["sha256"], fp)
        self.assertTrue(ins["chain_verified"])
        self.assertEqual(len(ins["chain"]), 3)
        self.assertIn("conduit root CA", ins["chain"][2])
        text = self.conduit("certs", "inspect", "web").stdout
        self.assertIn(fp, text)
        self.assertIn("signatures verified", text)
        self.assertEqual(self.conduit("certs", "inspect", "nosuch").returncode, 1)

        r = self.conduit("certs", "rotate", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: self.served_cert("web")[0] != serial, 10))
        new_serial, _ = self.served_cert("web")
        self.assertIn(new_serial, r.stdout)
        self.assertEqual(self.get("web")[0], 200)
        rec = self.audit()[-1]
        self.assertEqual((rec["action"], rec["status"], rec["details"]),
                         ("cert_rotate", "success", {"name": "web"}))

        self.assertEqual(self.conduit("certs", "ca").stdout.strip(), self.root)
        with open(self.root) as f:
            self.assertEqual(self.conduit("certs", "ca", "--pem").stdout, f.read())
        # The served chain verifies against exactly this root.
        s = subprocess.run(["openssl", "s_client", "-connect",
                            "127.0.0.1:%d" % self.https, "-servername",
                            "web.%s" % DOMAIN, "-CAfile", self.root,
                            "-verify_return_error"], input="",
                           capture_output=True, text=True, timeout=10)
        self.assertIn("Verify return code: 0 (ok)", s.stdout)

        dest = os.path.join(self.dir, "trust")
        os.mkdir(dest)
        r = self.conduit("certs", "trust", "--dest", dest, "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.listdir(dest), [])
        self.assertIn("security add-trusted-cert", r.stdout)
        self.assertIn("certutil -addstore", r.stdout)
        r = self.conduit("certs", "trust", "--dest", dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.root) as a, open(os.path.join(
                dest, "conduit-%s.crt" % DOMAIN)) as b:
            self.assertEqual(a.read(), b.read())
        rec = self.audit()[-1]
        self.assertEqual((rec["action"], rec["status"]),
                         ("ca_trust_install", "success"))

    def test_new_root_replaces_stale_intermediate(self):
        self.up()
        _, port = self.upstream("A")
        self.assertEqual(self.conduit("register", "web", "--host", "127.0.0.1",
                                      "--port", str(port)).returncode, 0)
        self.assertTrue(wait_until(lambda: self.get("web")[0] == 200, 10))
        old_root = os.path.join(self.dir, "old-root.crt")
        shutil.copy(self.root, old_root)
        self.conduit("down")

        # A new root: the stored intermediate and leaves are now stale.
        shutil.rmtree(os.path.join(self.state, "pki"))
        with open(os.path.join(self.state, "conduit.yaml")) as f:
            yaml = f.read()
        r = self.conduit("init", "--force", "--domain", DOMAIN, "--listen",
                         "127.0.0.1", "--https-port", str(self.https),
                         "--http-port", str(self.http))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.state, "conduit.yaml"), "w") as f:
            f.write(yaml)
        self.up()
        self.assertTrue(wait_until(lambda: self.get("web")[0] == 200, 10))
        self.assertNotEqual(self.get("web", cacert=old_root)[0], 200)

    def test_init_force_keeps_the_ca(self):
        with open(self.root, "rb") as f:
            before = f.read()
        st = os.stat(os.path.join(self.state, "pki", "root.key"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.root).st_mode & 0o777, 0o644)
        r = self.conduit("init", "--force", "--domain", DOMAIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.root, "rb") as f:
            self.assertEqual(f.read(), before)
        x = subprocess.run(["openssl", "x509", "-in", self.root, "-noout",
                            "-text"], capture_output=True, text=True)
        self.assertIn("CA:TRUE, pathlen:1", x.stdout)
        self.assertIn("Certificate Sign, CRL Sign", x.stdout)
        self.assertIn("prime256v1", x.stdout)
        self.assertIn("Subject Key Identifier", x.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
