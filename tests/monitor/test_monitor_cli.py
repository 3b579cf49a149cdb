"""conduit monitor end to end: the fake nvidia-smi, the fake Docker
engine, alerts in the audit log, --check, Prometheus output."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

import monitor_env as me
from monitor_env import tl


def online_cpus():
    n = 0
    with open("/sys/devices/system/cpu/online") as f:
        for part in f.read().strip().split(","):
            a, _, b = part.partition("-")
            n += int(b or a) - int(a) + 1
    return n


class MonitorTest(tl.StateDirTest):
    def monitor(self, *args, env=None, check=0):
        e = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
        e.update(env or {})
        return self.conduit("monitor", *args, env=e, check=check)

    def json_run(self, *args, **kw):
        p = self.monitor("--json", *args, **kw)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["schema_version"], 1)
        return doc, doc["servers"][0]

    def alerts_in_audit(self):
        return [r for r in self.audit_records() if r["action"] == "monitor_alert"]

    def hot_csv(self, temp):
        """The H100 fixture with GPU 1 at temp degrees."""
        with open(os.path.join(me.NVSMI, "gpu_2xh100.csv")) as f:
            rows = [r.split(", ") for r in f.read().splitlines() if r]
        rows[1][3] = str(temp)
        path = os.path.join(self.tmp, "gpu_%d.csv" % temp)
        with open(path, "w") as f:
            f.write("".join(", ".join(r) + "\n" for r in rows))
        return path

    def test_gpus_containers_and_host(self):
        sock = me.start_docker(self)
        doc, srv = self.json_run(env=me.gpu_env(DOCKER_HOST="unix://" + sock))
        gpus = srv["gpus"]
        self.assertEqual(gpus["status"], "ok")
        g1 = gpus["devices"][1]
        self.assertEqual(g1["index"], 1)
        self.assertEqual(g1["temperature_celsius"], 59)
        self.assertEqual(g1["memory_used_bytes"], 19818 * 1048576)
        self.assertEqual(g1["power_limit_watts"], 700)
        self.assertIsNone(g1["fan_percent"])       # [N/A] on HGX boards
        self.assertEqual(gpus["devices"][0]["throttle_reasons"], ["gpu_idle"])
        procs = {p["pid"]: p for p in gpus["processes"]}
        self.assertEqual(procs[10309]["name"], "./gpu_burn")
        self.assertEqual(procs[10309]["gpu_index"], 1)
        self.assertIsNone(procs[50983]["name"])     # [Not Found]
        self.assertIsNone(procs[50983]["used_memory_bytes"])

        cont = srv["containers"]
        self.assertEqual(cont["status"], "ok")
        self.assertEqual(cont["api_version"], "1.43")
        by = {c["name"]: c for c in cont["items"]}
        self.assertEqual(set(by), {"ollama", "qp-core", "postgres"})
        self.assertAlmostEqual(by["ollama"]["cpu_percent"], 50.0, places=6)
        self.assertEqual(by["qp-core"]["memory_used_bytes"], 536870912 - 134217728)
        self.assertEqual(by["qp-core"]["health"], "unhealthy")
        self.assertEqual(by["qp-core"]["restart_count"], 4)
        self.assertTrue(by["postgres"]["oom_killed"])
        self.assertIsNone(by["postgres"]["cpu_percent"])
        # First sighting: no baseline yet, so no restart news.
        self.assertIsNone(by["qp-core"]["restarts_new"])

        host = srv["host"]
        self.assertEqual(host["cpus"], online_cpus())
        self.assertIn("/", [f["mountpoint"] for f in host["filesystems"]])
        st = os.statvfs("/")
        root = [f for f in host["filesystems"] if f["mountpoint"] == "/"][0]
        self.assertEqual(root["total_bytes"], st.f_blocks * st.f_frsize)
        self.assertGreaterEqual(host["cpu_percent"], 0)
        self.assertLessEqual(host["cpu_percent"], 100)
        with open("/proc/meminfo") as f:
            total = int([l for l in f if l.startswith("MemTotal:")][0].split()[1]) * 1024
        self.assertEqual(host["memory"]["total_bytes"], total)
        metrics = sorted(a["metric"] for a in doc["alerts"])
        self.assertEqual(metrics, ["container_health"])

    def test_human_output(self):
        sock = me.start_docker(self)
        p = self.monitor(env=me.gpu_env(DOCKER_HOST="unix://" + sock))
        self.assertIn("GPU 1       NVIDIA H100 80GB HBM3  59C", p.stdout)
        self.assertRegex(p.stdout, r"qp-core +running +unhealthy")
        self.assertIn("! container qp-core is unhealthy", p.stdout)

    def test_gpu_alert_audited_once_then_cleared(self):
        hot = me.gpu_env(self.hot_csv(92))
        for _ in range(3):
            p = self.monitor("--only", "gpu", "--check", env=hot, check=1)
        self.assertIn("GPU 1 temperature 92C exceeds threshold 85C", p.stdout)
        recs = self.alerts_in_audit()
        self.assertEqual(len(recs), 1, recs)
        d = recs[0]["details"]
        self.assertEqual((d["metric"], d["value"], d["threshold"], d["unit"], d["gpu_index"], d["state"]),
                         ("gpu_temperature", 92, 85, "celsius", 1, "firing"))
        self.assertEqual(recs[0]["message"], "GPU 1 temperature 92C exceeds threshold 85C")
        # nvidia-smi failing is no all-clear.
        self.monitor("--only", "gpu", "--check", env=me.gpu_env(FAKE_NVSMI_FAIL="9"), check=0)
        self.assertEqual(len(self.alerts_in_audit()), 1)
        self.monitor("--only", "gpu", "--check", env=me.gpu_env(self.hot_csv(70)), check=0)
        recs = self.alerts_in_audit()
        self.assertEqual(len(recs), 2)
        self.assertEqual(recs[1]["details"]["state"], "cleared")
        self.assertEqual(recs[1]["details"]["value"], 70)
        self.conduit("audit", "lint", check=0)   # the conformance validator
        st = os.stat(os.path.join(self.state, "monitor", "state.json"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_restart_increase_is_event_and_alert(self):
        folder = os.path.join(self.tmp, "docker")
        shutil.copytree(me.DOCKER_FIXTURES, folder)
        sock = me.start_docker(self, folder)
        env = {"DOCKER_HOST": "unix://" + sock}
        doc, _ = self.json_run("--only", "containers", env=env)
        self.assertEqual(doc["events"], [])
        core = os.path.join(folder, "inspect",
                            "8b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c.json")
        with open(core) as f:
            ins = json.load(f)
        ins["RestartCount"] = 6
        with open(core, "w") as f:
            json.dump(ins, f)
        doc, srv = self.json_run("--only", "containers", env=env)
        self.assertEqual([(e["container"], e["previous"], e["current"]) for e in doc["events"]],
                         [("qp-core", 4, 6)])
        by = {c["name"]: c for c in srv["containers"]["items"]}
        self.assertEqual(by["qp-core"]["restarts_new"], 2)
        self.assertEqual(by["ollama"]["restarts_new"], 0)
        self.assertIn("container_restarts", [a["metric"] for a in doc["alerts"]])
        doc, _ = self.json_run("--only", "containers", env=env)
        self.assertNotIn("container_restarts", [a["metric"] for a in doc["alerts"]])
        states = [r["details"]["state"] for r in self.alerts_in_audit()
                  if r["details"]["metric"] == "container_restarts"]
        self.assertEqual(states, ["firing", "cleared"])

    def test_prometheus_output_and_file(self):
        sock = me.start_docker(self)
        env = me.gpu_env(DOCKER_HOST="unix://" + sock)
        p = self.monitor("--prometheus", env=env)
        chk = subprocess.run(["promtool", "check", "metrics"], input=p.stdout,
                             capture_output=True, text=True)
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)
        self.assertIn('conduit_gpu_temperature_celsius{server="local",gpu="1",'
                      'uuid="GPU-9e4f3b2a-7c1d-4e6f-8a2b-3c4d5e6f7a82",name="NVIDIA H100 80GB HBM3"} 59\n',
                      p.stdout)
        self.assertIn('conduit_container_cpu_ratio{server="local",container="ollama",'
                      'image="ollama/ollama:0.1.48"} 0.03125\n', p.stdout)
        self.assertNotIn("conduit_gpu_fan_ratio{", p.stdout)   # null: not exported
        out_dir = os.path.join(self.tmp, "textfile")
        os.mkdir(out_dir)
        path = os.path.join(out_dir, "conduit.prom")
        q = self.monitor("--prometheus-file", path, env=env)
        self.assertEqual(q.stdout, "")
        self.assertEqual(os.listdir(out_dir), ["conduit.prom"])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        with open(path) as f:
            text = f.read()
        chk = subprocess.run(["promtool", "check", "metrics"], input=text,
                             capture_output=True, text=True)
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)

    def test_sources_absent_or_failing(self):
        doc, srv = self.json_run(env={"PATH": "/nonexistent"})
        self.assertEqual(srv["gpus"]["status"], "not_present")
        self.assertEqual(srv["containers"]["status"], "not_present")
        doc, srv = self.json_run(env=me.gpu_env(FAKE_NVSMI_FAIL="9"))
        self.assertEqual(srv["gpus"]["status"], "error")
        self.assertIn("couldn't communicate with the NVIDIA driver", srv["gpus"]["error"])
        self.assertIsNotNone(srv["host"])   # the run went on
        doc, srv = self.json_run(env={"DOCKER_HOST": "tcp://127.0.0.1:2375"})
        self.assertEqual(srv["containers"]["status"], "error")
        self.assertIn("unix:///path", srv["containers"]["error"])
        # A socket file nobody listens on.
        dead = os.path.join(self.tmp, "dead.sock")
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.bind(dead)
        s.close()
        doc, srv = self.json_run(env={"DOCKER_HOST": "unix://" + dead})
        self.assertEqual(srv["containers"]["status"], "error")

    def test_api_version_negotiated_down(self):
        sock = me.start_docker(self, extra=["--api", "1.41"])
        doc, srv = self.json_run("--only", "containers", env={"DOCKER_HOST": "unix://" + sock})
        self.assertEqual(srv["containers"]["api_version"], "1.41")
        self.assertEqual(len(srv["containers"]["items"]), 3)
        with open(sock + ".log") as f:
            paths = f.read().split()
        self.assertEqual(paths[0], "/_ping")
        self.assertTrue(all(p.startswith("/v1.41/") for p in paths[1:]), paths)

    def test_only_limits_sources(self):
        doc, srv = self.json_run("--only", "host", env=me.gpu_env())
        self.assertIsNone(srv["gpus"])
        self.assertIsNone(srv["containers"])
        self.assertIsNotNone(srv["host"])

    def test_usage_errors(self):
        for args in (["--server", "-oProxyCommand=touch /tmp/x"], ["--only", "disk"],
                     ["--json", "--prometheus"], ["--sample-ms", "99999"],
                     ["--server", "root@bad host"]):
            p = self.monitor(*args, check=2)
            self.assertIn("conduit monitor:", p.stderr)


class NoStateDirTest(unittest.TestCase):
    def test_runs_without_state_dir(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, True)
        env = {"CONDUIT_STATE_DIR": "", "HOME": tmp, "XDG_STATE_HOME": tmp,
               "PATH": "/nonexistent", "DOCKER_HOST": "unix:///nonexistent"}
        p = tl.run(["monitor", "--json", "--local"], env=env, check=0)
        self.assertEqual(json.loads(p.stdout)["servers"][0]["server"], "local")
        self.assertEqual(p.stderr, "")


if __name__ == "__main__":
    unittest.main()
