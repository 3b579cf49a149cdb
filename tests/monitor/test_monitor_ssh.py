"""Remote servers over a real sshd on loopback: the conduit path, the
procfs fallback, and dead servers that must not hold up the others."""
import json
import os
import time
import unittest

from monitor_env import tl
import sshd_env


class RemoteTest(tl.StateDirTest):
    def setUp(self):
        super().setUp()
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        os.symlink(os.path.abspath(tl.CONDUIT), os.path.join(bindir, "conduit"))
        self.black = tl.BlackHole()
        self.addCleanup(self.black.stop)
        self.ssh_config = sshd_env.start_sshd(self, self.tmp, {
            "installed1": ["IdentityFile %s" % os.path.join(self.tmp, "pathkey")],
            "fallback1": [],
            "dead1": ["Port %d" % self.black.port],
            "refused1": ["Port %d" % tl.free_port()],
        }, "%s:/usr/bin:/bin" % bindir)
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("ssh_timeout: 5000ms", "ssh_timeout: 3s"))

    def monitor(self, *args, check=0):
        return self.conduit("monitor", "--ssh-config", self.ssh_config, *args,
                            env={"DOCKER_HOST": "unix:///nonexistent", "PATH": "/usr/bin:/bin"},
                            check=check)

    def test_conduit_and_fallback(self):
        p = self.monitor("--json", "--only", "host,gpu,containers",
                         "--server", "installed1", "--server", "fallback1")
        doc = json.loads(p.stdout)
        names = [s["server"] for s in doc["servers"]]
        self.assertEqual(names, ["local", "installed1", "fallback1"])
        local, inst, fb = doc["servers"]
        self.assertEqual((inst["reachable"], inst["via"]), (True, "conduit"))
        self.assertEqual((fb["reachable"], fb["via"]), (True, "fallback"))
        # Same machine, so the same figures whichever way they came.
        for s in (inst, fb):
            self.assertEqual(s["host"]["hostname"], local["host"]["hostname"])
            self.assertEqual(s["host"]["cpus"], local["host"]["cpus"])
            self.assertEqual(s["host"]["memory"]["total_bytes"],
                             local["host"]["memory"]["total_bytes"])
            root = [f for f in s["host"]["filesystems"] if f["mountpoint"] == "/"][0]
            st = os.statvfs("/")
            # df -P counts 1K blocks: equal to within a block.
            self.assertAlmostEqual(root["total_bytes"], st.f_blocks * st.f_frsize, delta=1024)
            self.assertIsNotNone(s["host"]["cpu_percent"])
            self.assertEqual(s["gpus"]["status"], "not_present")
        self.assertEqual(inst["containers"]["status"], "not_present")
        self.assertEqual(fb["containers"]["status"], "unsupported")
        self.assertEqual(doc["alerts"], [])

    def test_dead_servers_do_not_delay_others(self):
        t0 = time.monotonic()
        p = self.monitor("--json", "--check", "--server", "fallback1", "--server", "dead1",
                         "--server", "refused1", "--server", "installed1", check=1)
        took = time.monotonic() - t0
        self.assertLess(took, 3 + 1.0)
        doc = json.loads(p.stdout)
        by = {s["server"]: s for s in doc["servers"]}
        self.assertTrue(by["fallback1"]["reachable"])
        self.assertTrue(by["installed1"]["reachable"])
        self.assertFalse(by["dead1"]["reachable"])
        self.assertIn("3000 ms", by["dead1"]["error"])
        self.assertFalse(by["refused1"]["reachable"])
        self.assertIn("Connection refused", by["refused1"]["error"])
        self.assertIsNone(by["dead1"]["host"])
        unreachable = sorted(a["server"] for a in doc["alerts"] if a["metric"] == "server_reachable")
        self.assertEqual(unreachable, ["dead1", "refused1"])
        recs = [r for r in self.audit_records() if r["action"] == "monitor_alert"]
        self.assertEqual(len(recs), 2)

    def test_servers_from_config(self):
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("servers: []", "servers: [fallback1]"))
        p = self.monitor("--only", "host")
        self.assertIn("fallback1 (", p.stdout)
        self.assertIn("[fallback: conduit not installed there]", p.stdout)


if __name__ == "__main__":
    unittest.main()
