"""`conduit apply`: manifests, plans, exit codes, audit records, and the
whole stack applied against real Caddy and dnsmasq.

ApplyTest runs without daemons (--no-reload, as the foundation tests
do); ApplyLiveTest starts Caddy and dnsmasq with `conduit up` and checks
names resolve (dig) and route (curl through the gateway with conduit's
CA), and that a refusing backend leaves everything as it was.
"""
import json
import os
import subprocess
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import SOURCE, StateDirTest, Upstream  # noqa: E402

EXAMPLE = os.path.join(SOURCE, "examples", "services.yaml")


def manifest(text):
    return textwrap.dedent(text).lstrip("\n")


class ApplyBase(StateDirTest):
    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def apply(self, path, *args, check=None, **kw):
        return self.conduit("apply", "-f", path, *args, check=check, **kw)

    def plan(self, path, *args):
        """The --dry-run --json plan (exit status checked by the caller)."""
        p = self.conduit("apply", "-f", path, "--dry-run", "--json", *args)
        return p.returncode, json.loads(p.stdout)

    def active(self):
        doc = json.loads(self.conduit("list", "--json", check=0).stdout)
        return {s["name"]: s for s in doc["services"] if s["status"] == "active"}


class ApplyTest(ApplyBase):
    def test_example_plans_applies_and_reapplies_to_nothing(self):
        rc, plan = self.plan(EXAMPLE)
        self.assertEqual(rc, 1)
        names = [a["name"] for a in plan["add"]]
        self.assertEqual(names, ["api", "hub", "postgres", "redis", "ollama",
                                 "vllm", "grafana"])
        self.assertEqual(plan["summary"], {"added": 7, "changed": 0,
                                           "removed": 0, "unchanged": 0})
        self.assertFalse(plan["applied"])
        # A dry run writes nothing, not even an audit record.
        self.assertEqual(len(self.audit_records()), 1)
        self.assertEqual(self.active(), {})

        p = self.apply(EXAMPLE, "--no-reload", check=0)
        self.assertIn("applied: 7 added, 0 changed, 0 removed, 0 unchanged",
                      p.stdout)
        svcs = self.active()
        self.assertEqual(sorted(svcs), sorted(names))
        self.assertEqual([u["port"] for u in svcs["api"]["upstreams"]], [8000, 8000])
        self.assertEqual(svcs["api"]["aliases"], ["core"])
        self.assertEqual(svcs["api"]["health_path"], "/health")
        self.assertEqual(svcs["api"]["health_check"]["interval_ms"], 5000)
        self.assertEqual(svcs["api"]["health_check"]["fails"], 3)
        self.assertTrue(svcs["postgres"]["dns_only"])
        self.assertEqual(svcs["ollama"]["health_check"]["timeout_ms"], 5000)

        recs = self.audit_records()[1:]
        self.assertEqual([r["action"] for r in recs if r["action"][:4] != "dns_"],
                         ["service_register"] * 7 + ["apply"])
        self.assertEqual(recs[0]["details"]["name"], "api")
        self.assertEqual(recs[0]["details"]["upstreams"],
                         ["127.0.0.10:8000", "127.0.0.11:8000"])
        # As register writes them: each service_register is followed by
        # a dns_add per name; proxied names point at the gateway.
        dns = {r["details"]["name"]: r["details"]["host"] for r in recs
               if r["action"] == "dns_add"}
        self.assertEqual(dns, {"api": "127.0.0.1", "core": "127.0.0.1",
                               "hub": "127.0.0.1", "postgres": "127.0.0.20",
                               "db": "127.0.0.20", "redis": "127.0.0.20",
                               "ollama": "127.0.0.1", "vllm": "127.0.0.1",
                               "llm": "127.0.0.1", "grafana": "127.0.0.1"})
        self.assertEqual([r["action"] for r in recs[:4]],
                         ["service_register", "dns_add", "dns_add",
                          "service_register"])
        self.assertEqual(recs[-1]["details"], {"file": EXAMPLE, "added": 7,
                                               "changed": 0, "removed": 0,
                                               "unchanged": 7 - 7})

        before, n_audit = self.services_json(), len(self.audit_records())
        p = self.apply(EXAMPLE, "--no-reload", check=0)
        self.assertIn("no changes", p.stdout)
        self.assertEqual(self.services_json(), before)
        self.assertEqual(len(self.audit_records()), n_audit)
        rc, plan = self.plan(EXAMPLE)
        self.assertEqual(rc, 0)
        self.assertEqual(plan["summary"]["unchanged"], 7)

    def test_change_one_upstream_and_one_health_path(self):
        base = manifest("""
            services:
              - name: api
                upstreams: [127.0.0.1:8000, 127.0.0.1:8001]
                health: {path: /health}
              - name: hub
                upstreams: [127.0.0.1:3000]
                health: {path: /}
              - name: redis
                upstreams: [127.0.0.2:6379]
                dns_only: true
            """)
        path = self.write("m.yaml", base)
        self.apply(path, "--no-reload", check=0)
        registered = self.active()["api"]["registered_at"]
        n_audit = len(self.audit_records())

        self.write("m.yaml", base.replace("127.0.0.1:8001", "127.0.0.1:8002")
                   .replace("{path: /}", "{path: /ready}"))
        rc, plan = self.plan(path)
        self.assertEqual(rc, 1)
        self.assertEqual(plan["summary"], {"added": 0, "changed": 2,
                                           "removed": 0, "unchanged": 1})
        changes = {c["name"]: c["changes"] for c in plan["change"]}
        self.assertEqual(changes, {
            "api": {"upstreams": {"old": ["127.0.0.1:8000", "127.0.0.1:8001"],
                                  "new": ["127.0.0.1:8000", "127.0.0.1:8002"]}},
            "hub": {"health.path": {"old": "/", "new": "/ready"}},
        })
        p = self.apply(path, "--no-reload", check=0)
        self.assertIn('upstreams: ["127.0.0.1:8000","127.0.0.1:8001"] -> '
                      '["127.0.0.1:8000","127.0.0.1:8002"]', p.stdout)
        self.assertIn('health.path: "/" -> "/ready"', p.stdout)
        self.assertNotIn("redis", p.stdout)

        svcs = self.active()
        self.assertEqual([u["port"] for u in svcs["api"]["upstreams"]], [8000, 8002])
        self.assertEqual(svcs["hub"]["health_path"], "/ready")
        self.assertEqual(svcs["api"]["registered_at"], registered)
        recs = self.audit_records()[n_audit:]
        self.assertEqual([r["action"] for r in recs],
                         ["service_update", "service_update", "apply"])
        self.assertEqual(recs[1]["details"], {
            "name": "hub",
            "changes": {"health.path": {"old": "/", "new": "/ready"}}})
        self.assertEqual(recs[2]["details"]["changed"], 2)
        self.assertEqual(recs[2]["details"]["unchanged"], 1)

    def test_prune_removes_only_the_hand_registered_service(self):
        self.conduit("register", "legacy", "--host", "127.0.0.1", "--port", "9999",
                     "--no-reload", check=0)
        path = self.write("m.yaml", manifest("""
            services:
              - name: api
                upstreams: [127.0.0.1:8000]
            """))
        p = self.apply(path, "--no-reload", check=0)
        self.assertNotIn("legacy", p.stdout)
        self.assertEqual(sorted(self.active()), ["api", "legacy"])

        rc, plan = self.plan(path, "--prune")
        self.assertEqual(rc, 1)
        self.assertEqual(plan["remove"], [{"name": "legacy"}])
        n_audit = len(self.audit_records())
        p = self.apply(path, "--prune", "--no-reload", check=0)
        self.assertIn("- legacy", p.stdout)
        self.assertEqual(sorted(self.active()), ["api"])
        doc = json.loads(self.conduit("list", "--all", "--json", check=0).stdout)
        legacy = [s for s in doc["services"] if s["name"] == "legacy"]
        self.assertEqual(legacy[0]["status"], "inactive")
        self.assertIsNotNone(legacy[0]["deregistered_at"])
        recs = self.audit_records()[n_audit:]
        self.assertEqual([(r["action"], r["details"].get("name")) for r in recs],
                         [("service_deregister", "legacy"),
                          ("dns_remove", "legacy"), ("apply", None)])

    def test_alias_change_records_dns_entries(self):
        text = manifest("""
            services:
              - name: vllm
                upstreams: [127.0.0.1:8001]
                aliases: [llm]
            """)
        path = self.write("m.yaml", text)
        self.apply(path, "--no-reload", check=0)
        n_audit = len(self.audit_records())
        self.write("m.yaml", text.replace("[llm]", "[llm, gpt]"))
        p = self.apply(path, "--no-reload", check=0)
        self.assertIn('aliases: ["llm"] -> ["llm","gpt"]', p.stdout)
        recs = self.audit_records()[n_audit:]
        self.assertEqual([(r["action"], r["details"].get("name")) for r in recs],
                         [("service_update", "vllm"),
                          ("dns_remove", "vllm"), ("dns_remove", "llm"),
                          ("dns_add", "vllm"), ("dns_add", "llm"),
                          ("dns_add", "gpt"), ("apply", None)])
        self.assertEqual(recs[0]["details"]["changes"],
                         {"aliases": {"old": ["llm"], "new": ["llm", "gpt"]}})

    def test_five_errors_reported_with_line_and_column(self):
        path = self.write("bad.yaml", manifest("""
            services:
              - name: api
                upstreams: ["127.0.0.1:70000"]
                scheme: ftp
              - name: API
                upstreams: [127.0.0.1:8000]
                helth: {path: /x}
              - name: web
                upstreams: [127.0.0.1:80]
                tls: maybe
            """))
        before, n_audit = self.services_json(), len(self.audit_records())
        for extra in ([], ["--dry-run"]):
            p = self.apply(path, "--no-reload", *extra)
            self.assertEqual(p.returncode, 2, p.stderr)
            lines = p.stderr.splitlines()
            want = [
                ("3:17", 'upstream port "70000" is out of range 1-65535'),
                ("4:13", 'scheme "ftp" must be http or https'),
                ("5:11", 'duplicate service name "api"'),
                ("7:5", 'unknown key "helth"'),
                ("10:10", 'tls "maybe" must be true or false'),
            ]
            self.assertEqual(len(lines), 6, p.stderr)
            for line, (pos, text) in zip(lines, want):
                self.assertTrue(line.startswith("%s:%s: " % (path, pos)), line)
                self.assertIn(text, line)
            self.assertIn("5 errors; nothing was changed", lines[5])
        self.assertEqual(self.services_json(), before)
        # The real apply records its failure; the dry run does not.
        recs = self.audit_records()[n_audit:]
        self.assertEqual([(r["action"], r["status"]) for r in recs],
                         [("apply", "failure")])

        p = self.apply(path, "--dry-run", "--json")
        self.assertEqual(p.returncode, 2)
        doc = json.loads(p.stdout)
        self.assertEqual([(e["line"], e["column"]) for e in doc["errors"]],
                         [(3, 17), (4, 13), (5, 11), (7, 5), (10, 10)])
        self.assertFalse(doc["applied"])

    def test_conflict_with_hand_registered_alias(self):
        self.conduit("register", "api", "--host", "127.0.0.1", "--port", "8000",
                     "--alias", "core", "--no-reload", check=0)
        path = self.write("m.yaml", manifest("""
            services:
              - name: core
                upstreams: [127.0.0.1:9000]
            """))
        before = self.services_json()
        p = self.apply(path, "--no-reload")
        self.assertEqual(p.returncode, 2)
        self.assertIn(path + ":2:11: name \"core\" is already an alias of the "
                      "active service \"api\"", p.stderr)
        self.assertEqual(self.services_json(), before)
        # Retiring api in the same transaction resolves it.
        self.apply(path, "--prune", "--no-reload", check=0)
        self.assertEqual(sorted(self.active()), ["core"])

    def test_stdin_and_usage(self):
        text = "services:\n  - name: a\n    upstreams: [127.0.0.1:1]\n"
        p = self.conduit("apply", "-f", "-", "--no-reload", input=text, check=0)
        self.assertIn("+ a", p.stdout)
        p = self.conduit("apply", "-f", "-", "--no-reload",
                         input="services:\n  - nme: a\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("<stdin>:2:5: unknown key \"nme\"", p.stderr)
        self.assertEqual(self.conduit("apply").returncode, 2)
        self.assertEqual(self.conduit("apply", "-f", "x.yaml", "extra").returncode, 2)
        p = self.conduit("apply", "-f", os.path.join(self.tmp, "missing.yaml"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot be opened", p.stderr)


def dig(port, name):
    """The A records dig gets for name from the DNS server on port."""
    out = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=2",
         "+short", name, "A"], capture_output=True, text=True, timeout=15).stdout
    return sorted(l for l in out.split() if l and l[0].isdigit())


def proc_exe(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return ""


class ApplyLiveTest(ApplyBase):
    """Seven services against real Caddy and dnsmasq (`conduit up`)."""

    PROXIED = ["api", "hub", "ollama", "vllm", "grafana"]

    def setUp(self):
        super().setUp()
        # dnsmasq started as root drops privileges and must be able to
        # reach the state dir through its parents.
        os.chmod(self.tmp, 0o711)
        self.ups = {}
        for name in self.PROXIED:
            u = Upstream("hello from " + name)
            self.addCleanup(u.stop)
            self.ups[name] = u
        self.addCleanup(self.down)
        self.conduit("up", check=0)

    def down(self):
        self.conduit("down")
        # Should `down` fail half-way, stop what this test started by its
        # verified pid, never by name.
        for prog in ("caddy", "dnsmasq"):
            pid = self.pid(prog)
            if pid and proc_exe(pid) == prog:
                os.kill(pid, 9)

    def pid(self, prog):
        try:
            with open(os.path.join(self.state, "run", prog + ".pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop_caddy(self):
        """Stops the Caddy `up` started (by its verified pid)."""
        pid = self.pid("caddy")
        self.assertEqual(proc_exe(pid), "caddy")
        os.kill(pid, 15)
        for _ in range(100):
            if proc_exe(pid) != "caddy":
                break
            time.sleep(0.05)
        self.assertNotEqual(proc_exe(pid), "caddy")

    def stack(self, hub_health="/"):
        u = {n: "127.0.0.1:%d" % self.ups[n].port for n in self.PROXIED}
        return manifest("""
            services:
              - name: api
                upstreams: ["%(api)s"]
                aliases: [core]
                health: {path: /health, interval: 5s}
              - name: hub
                upstreams: ["%(hub)s"]
                health: {path: %(hh)s}
              - name: postgres
                upstreams: ["127.0.0.20:5432"]
                dns_only: true
              - name: redis
                upstreams: ["127.0.0.21:6379"]
                dns_only: true
              - name: ollama
                upstreams: ["%(ollama)s"]
              - name: vllm
                upstreams: ["%(vllm)s"]
                aliases: [llm]
              - name: grafana
                upstreams: ["%(grafana)s"]
            """ % dict(u, hh=hub_health))

    def fetch(self, name):
        """Body of https://NAME.internal:PORT/ through the gateway."""
        host = "%s.internal" % name
        p = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "--cacert",
             os.path.join(self.state, "pki", "root.crt"), "--resolve",
             "%s:%d:127.0.0.1" % (host, self.https_port),
             "https://%s:%d/" % (host, self.https_port)],
            capture_output=True, text=True, timeout=30)
        return p.stdout.strip() if p.returncode == 0 else "curl: " + p.stderr

    def dns_files(self):
        out = {}
        root = os.path.join(self.state, "dns")
        for dirpath, _, files in os.walk(root):
            for f in files:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    out[os.path.join(dirpath, f)] = fh.read()
        return out

    def test_stack_resolves_routes_and_reapplies_to_nothing(self):
        path = self.write("stack.yaml", self.stack())
        p = self.apply(path, check=0)
        self.assertIn("applied: 7 added", p.stdout)
        for name in self.PROXIED + ["core", "llm"]:
            self.assertEqual(dig(self.dns_port, name + ".internal"), ["127.0.0.1"],
                             name)
        self.assertEqual(dig(self.dns_port, "postgres.internal"), ["127.0.0.20"])
        self.assertEqual(dig(self.dns_port, "redis.internal"), ["127.0.0.21"])
        for name in self.PROXIED:
            self.assertEqual(self.fetch(name), "hello from " + name)
        self.assertEqual(self.fetch("llm"), "hello from vllm")

        before, n_audit = self.services_json(), len(self.audit_records())
        p = self.apply(path, check=0)
        self.assertIn("no changes", p.stdout)
        self.assertEqual(self.services_json(), before)
        self.assertEqual(len(self.audit_records()), n_audit)

        # No backend is contacted for an unchanged manifest: with Caddy
        # gone it still succeeds.
        self.stop_caddy()
        p = self.apply(path, check=0)
        self.assertIn("no changes", p.stdout)
        self.assertEqual(len(self.audit_records()), n_audit)

    def test_caddy_down_mid_apply_changes_nothing(self):
        path = self.write("stack.yaml", self.stack())
        self.apply(path, check=0)
        before, dns_before = self.services_json(), self.dns_files()
        n_audit = len(self.audit_records())

        self.stop_caddy()

        # One change each for Caddy (new upstream) and DNS (new alias).
        self.write("stack.yaml", self.stack(hub_health="/ready")
                   .replace("aliases: [llm]", "aliases: [llm, gpt]"))
        p = self.apply(path)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("nothing was changed", p.stderr)
        self.assertEqual(self.services_json(), before)
        self.assertEqual(self.dns_files(), dns_before)
        self.assertEqual(dig(self.dns_port, "gpt.internal"), [])
        self.assertEqual(dig(self.dns_port, "llm.internal"), ["127.0.0.1"])
        recs = self.audit_records()[n_audit:]
        self.assertEqual([(r["action"], r["status"]) for r in recs],
                         [("apply", "failure")])

        # services.json is the truth Caddy comes back with: the old set.
        self.conduit("up", check=0)
        self.assertEqual(self.fetch("llm"), "hello from vllm")
        self.assertNotEqual(self.fetch("gpt"), "hello from vllm")


if __name__ == "__main__":
    unittest.main()
