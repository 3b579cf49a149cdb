"""`conduit apply`: manifests, plans, exit codes, audit records, and the
whole stack applied against real Caddy and dnsmasq.

ApplyTest runs without daemons (--no-reload, as the foundation tests
do); ApplyLiveTest starts Caddy and dnsmasq with `conduit up` and checks
names resolve (dig) and route (curl through the gateway with conduit's
CA), and that a refusing backend leaves everything as it was.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
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
        self.assertEqual([r["action"] for r in recs],
                         ["service_register"] * 7 + ["apply"])
        self.assertEqual(recs[0]["details"]["name"], "api")
        self.assertEqual(recs[0]["details"]["upstreams"],
                         ["127.0.0.10:8000", "127.0.0.11:8000"])
        self.assertEqual(recs[-1]["details"], {"file": EXAMPLE, "added": 7,
                                               "changed": 0, "removed": 0,
                                               "unchanged": 7 - 7})
        # One transaction: every record carries the same timestamp.
        self.assertEqual(len({r["timestamp"] for r in recs}), 1)

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
                         [("service_deregister", "legacy"), ("apply", None)])

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


if __name__ == "__main__":
    unittest.main()
