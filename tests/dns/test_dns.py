#!/usr/bin/env python3
"""Internal DNS through a real dnsmasq (issue 4).

Every test gets its own state directory and high ports on loopback and
starts conduit's dnsmasq with `conduit dns start`; queries go out with
dig (and, for the 100 ms checks, a plain UDP query whose reply header is
read, because starting dig costs more than the interval measured).
"""
import hashlib
import json
import os
import pwd
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("CONDUIT_BIN", "conduit")
IS_ROOT = os.geteuid() == 0


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def dig(port, name, qtype="A", server="127.0.0.1"):
    """(status, [answer rdata...]) from a real dig query."""
    out = subprocess.run(
        ["dig", "@" + server, "-p", str(port), "+tries=1", "+time=2",
         "+noall", "+comments", "+answer", name, qtype],
        capture_output=True, text=True, timeout=10).stdout
    status = None
    answers = []
    for line in out.splitlines():
        if "status:" in line:
            status = line.split("status:")[1].split(",")[0].strip()
        elif line and not line.startswith(";"):
            f = line.split()
            if len(f) >= 5:
                answers.append((f[3], f[4]))
    return status, answers


def quick_query(port, name, qtype=1, timeout=0.05):
    """rcode and answer count of one UDP query (header fields only)."""
    qid = random.randint(0, 65535)
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        pkt += bytes([len(label)]) + label.encode()
    pkt += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, ("127.0.0.1", port))
        while True:
            data = s.recv(4096)
            rid, flags, _, an = struct.unpack(">HHHH", data[:8])
            if rid == qid:
                return flags & 0xF, an
    except socket.timeout:
        return None, 0
    finally:
        s.close()


class FakeUpstream:
    """A UDP server on 127.x.y.z:53 that logs every question it gets and
    answers each with TXT "forwarded" (a TXT, not an address, so that
    stop-dns-rebind has nothing to object to).  Needs root for port 53:
    upstream_dns takes addresses, not ports."""

    def __init__(self):
        self.addr = "127.%d.%d.%d" % (random.randint(60, 250),
                                       random.randint(1, 250),
                                       random.randint(1, 250))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.addr, 53))
        self.sock.settimeout(0.2)
        self.seen = []
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            # Question name: labels after the 12-byte header.
            i, labels = 12, []
            while i < len(data) and data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode())
                i += 1 + data[i]
            self.seen.append(".".join(labels).lower())
            q = data[12:i + 5]
            txt = b"\x09forwarded"
            ans = b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(txt)) \
                + txt
            hdr = data[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
            self.sock.sendto(hdr + q + ans, peer)

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


class DnsCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="conduit-dns-")
        # dnsmasq started by root runs as conduit-dns and must be able
        # to pass through the parents of the state dir.
        os.chmod(self.tmp, 0o711)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.state = os.path.join(self.tmp, "state")
        self.port = free_port()
        self.addCleanup(self.kill_dnsmasq)

    def conduit(self, *args, check=True, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run([BIN, "--state-dir", self.state] + list(args),
                           capture_output=True, text=True, timeout=60, env=e)
        if check and p.returncode != 0:
            self.fail("conduit %s failed (%d): %s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def init(self, *extra):
        self.conduit("init", "--listen", "127.0.0.1", "--https-port",
                     str(free_port()), "--http-port", "0", "--dns-port",
                     str(self.port), "--gateway-ip", "127.0.0.44", *extra)
        if IS_ROOT:
            self.addCleanup(shutil.rmtree, self.records_dir(), True)

    def records_dir(self):
        """Where the records live (docs/dns.md): outside the state dir in
        /run/conduit/<first 16 hex of sha256(real state path)> as root,
        <state>/dns otherwise.  Computed here independently of conduit."""
        if not IS_ROOT:
            return os.path.join(self.state, "dns")
        real = os.path.realpath(self.state).encode()
        return os.path.join("/run/conduit", hashlib.sha256(real).hexdigest()[:16])

    def pidfile(self):
        return os.path.join(self.state, "run", "dnsmasq.pid")

    def dnsmasq_pid(self):
        try:
            with open(self.pidfile()) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill_dnsmasq(self):
        """Cleanup even when the test failed half-way: conduit first,
        then the verified pid by hand."""
        if os.path.exists(os.path.join(self.state, "conduit.yaml")):
            subprocess.run([BIN, "--state-dir", self.state, "dns", "stop"],
                           capture_output=True, timeout=30)
            # The gateway `gateway()` started (a live register needs it).
            subprocess.run([BIN, "--state-dir", self.state, "down"],
                           capture_output=True, timeout=30)
        pid = self.dnsmasq_pid()
        if pid and os.path.basename(
                os.readlink("/proc/%d/exe" % pid)
                if os.path.exists("/proc/%d/exe" % pid) else "") == "dnsmasq":
            os.kill(pid, 9)

    def start(self):
        out = self.conduit("dns", "start").stdout
        self.assertIn("dnsmasq started", out)
        self.gateway()

    def gateway(self, env=None):
        """Caddy, which every live register and deregister loads first."""
        self.conduit("up", env=env)

    def audit(self):
        with open(os.path.join(self.state, "audit.log")) as f:
            return [json.loads(line) for line in f if line.strip()]


class TestResolve(DnsCase):
    def test_register_resolves_deregister_nxdomain(self):
        self.init()
        self.start()
        self.conduit("register", "grafana", "--host", "127.0.0.9", "--port",
                     "3000", "--alias", "dash")
        # Proxied: the gateway's address, for the name and its alias.
        self.assertEqual(dig(self.port, "grafana.internal"),
                         ("NOERROR", [("A", "127.0.0.44")]))
        self.assertEqual(dig(self.port, "dash.internal"),
                         ("NOERROR", [("A", "127.0.0.44")]))
        # conduit's own resolver: bare and fully qualified names.
        r = self.conduit("dns", "resolve", "grafana")
        self.assertIn("127.0.0.44", r.stdout)
        self.assertIn("ttl 5", r.stdout)
        self.assertRegex(r.stdout, r"[0-9.]+ ms from 127\.0\.0\.1 port %d"
                         % self.port)
        r = self.conduit("dns", "resolve", "dash.internal.")
        self.assertIn("127.0.0.44", r.stdout)

        self.conduit("deregister", "grafana")
        self.assertEqual(dig(self.port, "grafana.internal")[0], "NXDOMAIN")
        self.assertEqual(dig(self.port, "dash.internal")[0], "NXDOMAIN")
        r = self.conduit("dns", "resolve", "grafana", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("NXDOMAIN", r.stdout)

        # Audit: dns_add per name with the conformance shape, then
        # dns_remove for both.
        recs = self.audit()
        adds = [r for r in recs if r["action"] == "dns_add"]
        self.assertEqual([a["details"] for a in adds],
                         [{"name": "grafana", "host": "127.0.0.44"},
                          {"name": "dash", "host": "127.0.0.44"}])
        rems = [r for r in recs if r["action"] == "dns_remove"]
        self.assertEqual([r["details"] for r in rems],
                         [{"name": "grafana"}, {"name": "dash"}])
        self.assertTrue(all(r["status"] == "success" for r in adds + rems))

    def test_dns_only_own_address_v6_and_cname(self):
        self.init()
        self.start()
        self.conduit("register", "pg", "--host", "127.0.0.7", "--port",
                     "5432", "--dns-only")
        self.assertEqual(dig(self.port, "pg.internal"),
                         ("NOERROR", [("A", "127.0.0.7")]))
        self.conduit("register", "redis6", "--host", "::1", "--port", "6379",
                     "--dns-only")
        self.assertEqual(dig(self.port, "redis6.internal", "AAAA"),
                         ("NOERROR", [("AAAA", "::1")]))
        # AAAA for an IPv4-only name: empty answer, not NXDOMAIN.
        self.assertEqual(dig(self.port, "pg.internal", "AAAA"),
                         ("NOERROR", []))
        r = self.conduit("dns", "resolve", "redis6", "--type", "AAAA")
        self.assertIn("::1", r.stdout)
        # A hostname upstream is a CNAME (dnsmasq restarts for it).
        old_pid = self.dnsmasq_pid()
        self.conduit("register", "mq", "--host", "broker.dc.example",
                     "--port", "5672", "--dns-only")
        self.assertEqual(dig(self.port, "mq.internal"),
                         ("NOERROR", [("CNAME", "broker.dc.example.")]))
        self.assertNotEqual(self.dnsmasq_pid(), old_pid)
        # The other names survived the restart.
        self.assertEqual(dig(self.port, "pg.internal"),
                         ("NOERROR", [("A", "127.0.0.7")]))

        lst = json.loads(self.conduit("dns", "list", "--json").stdout)
        got = {(r["name"], r["type"], r["address"], r["dns_only"])
               for r in lst}
        self.assertEqual(got, {
            ("pg.internal", "A", "127.0.0.7", True),
            ("redis6.internal", "AAAA", "::1", True),
            ("mq.internal", "CNAME", "broker.dc.example", True)})
        human = self.conduit("dns").stdout
        self.assertIn("redis6.internal", human)
        self.assertIn("AAAA", human)

    def test_air_gapped_refuses_outside_names(self):
        self.init()  # upstream-dns defaults to none
        self.start()
        self.assertEqual(dig(self.port, "example.com")[0], "REFUSED")
        r = self.conduit("dns", "resolve", "example.com", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("REFUSED", r.stdout)
        self.assertEqual(dig(self.port, "nothing.internal")[0], "NXDOMAIN")

    @unittest.skipUnless(IS_ROOT, "the fake upstream needs port 53 (root)")
    def test_unknown_name_in_domain_is_not_forwarded(self):
        up = FakeUpstream()
        self.addCleanup(up.close)
        self.init("--upstream-dns", up.addr)
        self.start()
        # The upstream works: outside names do get forwarded to it...
        self.assertEqual(dig(self.port, "outside.example", "TXT"),
                         ("NOERROR", [("TXT", '"forwarded"')]))
        self.assertIn("outside.example", up.seen)
        # ...but a name under the domain never leaves conduit.
        self.assertEqual(dig(self.port, "ghost.internal")[0], "NXDOMAIN")
        self.conduit("register", "web", "--host", "127.0.0.9", "--port", "80")
        self.assertEqual(dig(self.port, "web.internal"),
                         ("NOERROR", [("A", "127.0.0.44")]))
        time.sleep(0.2)
        self.assertEqual([n for n in up.seen if n.endswith("internal")], [])

    def test_resolvable_within_100ms(self):
        self.init()
        self.start()
        for i in range(3):
            name = "svc%d" % i
            self.conduit("register", name, "--host", "127.0.0.9", "--port",
                         "80")
            t0 = time.monotonic()
            ok = False
            while time.monotonic() - t0 < 0.1:
                rcode, an = quick_query(self.port, name + ".internal")
                if rcode == 0 and an == 1:
                    ok = True
                    break
                time.sleep(0.002)
            self.assertTrue(ok, "%s not resolvable 100 ms after register"
                            % name)
            self.conduit("deregister", name)
            t0 = time.monotonic()
            ok = False
            while time.monotonic() - t0 < 0.1:
                rcode, _ = quick_query(self.port, name + ".internal")
                if rcode == 3:
                    ok = True
                    break
                time.sleep(0.002)
            self.assertTrue(ok, "%s not NXDOMAIN 100 ms after deregister"
                            % name)


class TestDaemon(DnsCase):
    @unittest.skipUnless(IS_ROOT, "privilege drop happens only as root")
    def test_root_drops_privileges_and_still_serves(self):
        self.init()
        # Nothing runs yet: files only, read by dnsmasq when it starts.
        self.conduit("register", "early", "--host", "127.0.0.9", "--port",
                     "80", "--no-reload")
        self.start()
        pid = self.dnsmasq_pid()
        with open("/proc/%d/status" % pid) as f:
            uid = [l.split()[1] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(int(uid), pwd.getpwnam("conduit-dns").pw_uid)
        # Read at start (after the drop) and after a SIGHUP reload.
        self.assertEqual(dig(self.port, "early.internal"),
                         ("NOERROR", [("A", "127.0.0.44")]))
        self.conduit("register", "late", "--host", "127.0.0.9", "--port",
                     "80")
        self.assertEqual(dig(self.port, "late.internal"),
                         ("NOERROR", [("A", "127.0.0.44")]))
        # Nothing else in the state dir is open to dnsmasq's group.
        for f in ("services.json", "audit.log", "conduit.yaml"):
            self.assertEqual(os.stat(os.path.join(self.state, f)).st_mode
                             & 0o077, 0, f)
        # The state dir stays private; only the records dir is shared.
        self.assertEqual(os.stat(self.state).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(self.state, "run")).st_mode
                         & 0o077, 0)
        rd = os.stat(self.records_dir())
        self.assertEqual(rd.st_mode & 0o7777, 0o2710)
        self.assertEqual(rd.st_gid, pwd.getpwnam("conduit-dns").pw_gid)
        hosts = os.stat(os.path.join(self.records_dir(), "hosts"))
        self.assertEqual(hosts.st_mode & 0o777, 0o640)
        self.assertEqual(hosts.st_gid, pwd.getpwnam("conduit-dns").pw_gid)

    @unittest.skipUnless(IS_ROOT, "privilege drop happens only as root")
    def test_state_dir_under_a_private_parent_still_serves(self):
        """A state dir below a 0700 directory (a checkout in /root, a
        mktemp -d) works: the records live outside it."""
        self.init()
        os.chmod(self.tmp, 0o700)
        self.addCleanup(os.chmod, self.tmp, 0o711)
        self.conduit("register", "deep", "--host", "127.0.0.9", "--port", "80",
                     "--dns-only", "--no-reload")
        self.start()
        self.assertEqual(dig(self.port, "deep.internal"),
                         ("NOERROR", [("A", "127.0.0.9")]))

    def test_start_twice_stop_and_flush(self):
        self.init()
        self.start()
        r = self.conduit("dns", "start", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already runs", r.stderr)
        self.conduit("dns", "flush")
        flush = [r for r in self.audit() if r["action"] == "dns_flush"]
        self.assertEqual(len(flush), 1)
        self.assertEqual(flush[0]["details"], {})
        self.assertEqual(flush[0]["status"], "success")
        self.conduit("dns", "stop")
        self.assertIsNone(self.dnsmasq_pid())
        r = self.conduit("dns", "flush", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not running", r.stderr)
        # Nothing answers any more: resolve times out or is refused.
        r = self.conduit("dns", "resolve", "x", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_port_in_use_reports_dnsmasq_reason(self):
        self.init()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", self.port))
        self.addCleanup(blocker.close)
        r = self.conduit("dns", "start", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("dnsmasq refused to start", r.stderr)
        self.assertIn("Address already in use", r.stderr)

    def test_failed_write_rolls_back_register(self):
        self.init()
        self.start()
        # The records file cannot be replaced: the backend refuses.
        hosts = os.path.join(self.records_dir(), "hosts")
        os.unlink(hosts)
        os.mkdir(hosts)
        self.addCleanup(os.rmdir, hosts)
        r = self.conduit("register", "web", "--host", "127.0.0.9", "--port",
                         "80", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("hosts", r.stderr)
        self.assertNotIn("web", self.conduit("list").stdout)
        self.assertEqual(
            [a for a in self.audit() if a["action"] == "dns_add"], [])

    def test_no_reload_writes_files_only(self):
        self.init()
        self.start()
        self.conduit("register", "quiet", "--host", "127.0.0.9", "--port",
                     "80", "--no-reload")
        with open(os.path.join(self.records_dir(), "hosts")) as f:
            self.assertIn("127.0.0.44 quiet.internal", f.read())
        # The running server was not told.
        self.assertEqual(dig(self.port, "quiet.internal")[0], "NXDOMAIN")
        self.conduit("dns", "flush")
        self.assertEqual(dig(self.port, "quiet.internal"),
                         ("NOERROR", [("A", "127.0.0.44")]))


class TestSystemMode(DnsCase):
    def test_system_dir_and_reload(self):
        """A stand-in for the system dnsmasq: started by the test with
        conf-dir pointed at a temp dir; conduit writes there and SIGHUPs
        it through its pid file."""
        self.init()
        sysdir = os.path.join(self.tmp, "dnsmasq.d")
        os.mkdir(sysdir, 0o755)
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg) as f:
            text = f.read()
        text = text.replace("mode: managed", "mode: system").replace(
            '"/etc/dnsmasq.d"', '"%s"' % sysdir)
        with open(cfg, "w") as f:
            f.write(text)
        pidfile = os.path.join(self.tmp, "sys.pid")
        env = {"CONDUIT_DNS_SYSTEM_PIDFILE": pidfile}
        # conduit writes its files before the service first starts.
        self.gateway(env)
        self.conduit("register", "api", "--host", "127.0.0.9", "--port",
                     "80", env=env)
        self.assertTrue(os.path.exists(os.path.join(sysdir, "conduit.conf")))
        args = ["dnsmasq", "--conf-dir=" + sysdir, "--port=%d" % self.port,
                "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--pid-file=" + pidfile]
        if IS_ROOT:
            args.append("--user=nobody")
        subprocess.run(args, check=True, timeout=10)

        def stop():
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read()), 15)
            except (OSError, ValueError):
                pass
        self.addCleanup(stop)
        self.assertEqual(dig(self.port, "api.internal"),
                         ("NOERROR", [("A", "127.0.0.44")]))
        # Live update via SIGHUP to the system dnsmasq's pid.
        self.conduit("register", "db", "--host", "127.0.0.7", "--port",
                     "5432", "--dns-only", env=env)
        self.assertEqual(dig(self.port, "db.internal"),
                         ("NOERROR", [("A", "127.0.0.7")]))
        self.conduit("deregister", "api", env=env)
        self.assertEqual(dig(self.port, "api.internal")[0], "NXDOMAIN")
        # conduit's managed daemon is not involved in system mode.
        r = self.conduit("dns", "start", check=False, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(self.pidfile()))


if __name__ == "__main__":
    unittest.main()
