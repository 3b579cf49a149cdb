"""CLI behaviour of the foundation: init, register, deregister, list,
audit, exit codes, hostile input, concurrency and crash safety.

These run the built binary against real state directories; no backend
daemons are involved (every mutation uses --no-reload where a backend
would otherwise be contacted).
"""
import json
import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import CONDUIT, StateDirTest, run  # noqa: E402

AUDIT_FIELDS = {"timestamp", "action", "status", "message", "user", "details"}


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class InitTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="conduit-init-")
        self.state = os.path.join(self.tmp, "s")

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.tmp])

    def test_creates_private_state_and_settings(self):
        p = run(["init", "--domain", "Lab.Internal", "--listen", "127.0.0.1",
                 "--https-port=8443", "--http-port", "0", "--dns-port", "5353",
                 "--upstream-dns", "127.0.0.53"], state=self.state, check=0)
        self.assertEqual(mode(self.state), 0o700)
        cfg = os.path.join(self.state, "conduit.yaml")
        self.assertEqual(mode(cfg), 0o600)
        self.assertEqual(mode(os.path.join(self.state, "services.json")), 0o600)
        text = open(cfg).read()
        self.assertIn('domain: "lab.internal"', text)
        self.assertIn("https_port: 8443", text)
        self.assertIn("http_port: 0", text)
        self.assertIn('upstream_dns: ["127.0.0.53"]', text)
        self.assertIn("#", text)  # commented for humans
        recs = [json.loads(l) for l in open(os.path.join(self.state, "audit.log"))]
        self.assertEqual([r["action"] for r in recs], ["conduit_setup"])
        self.assertEqual(recs[0]["details"]["domain"], "lab.internal")
        self.assertEqual(p.stdout, "")  # progress goes to stderr

    def test_second_init_fails_unless_force_and_keeps_data(self):
        run(["init", "--listen", "127.0.0.1"], state=self.state, check=0)
        run(["register", "a", "--host", "127.0.0.1", "--port", "1", "--no-reload"],
            state=self.state, check=0)
        before = open(os.path.join(self.state, "services.json")).read()
        p = run(["init", "--domain", "other"], state=self.state, check=1)
        self.assertIn("already exists", p.stderr)
        self.assertIn('domain: "internal"', open(os.path.join(self.state, "conduit.yaml")).read())
        run(["init", "--force", "--domain", "other"], state=self.state, check=0)
        self.assertIn('domain: "other"', open(os.path.join(self.state, "conduit.yaml")).read())
        self.assertEqual(before, open(os.path.join(self.state, "services.json")).read())

    def test_env_and_flag_precedence(self):
        env_state = os.path.join(self.tmp, "from-env")
        run(["init"], env={"CONDUIT_STATE_DIR": env_state}, check=0)
        self.assertTrue(os.path.exists(os.path.join(env_state, "conduit.yaml")))
        # The flag wins over the environment.
        run(["init"], state=self.state, env={"CONDUIT_STATE_DIR": env_state}, check=0)
        self.assertTrue(os.path.exists(os.path.join(self.state, "conduit.yaml")))
        # --config puts the settings elsewhere and later commands read it.
        cfg = os.path.join(self.tmp, "alt.yaml")
        st3 = os.path.join(self.tmp, "s3")
        run(["--config", cfg, "init", "--domain", "alt"], state=st3, check=0)
        self.assertFalse(os.path.exists(os.path.join(st3, "conduit.yaml")))
        run(["--config", cfg, "register", "x", "--host", "127.0.0.1", "--port", "9",
             "--no-reload"], state=st3, check=0)
        out = json.loads(run(["--config", cfg, "list", "--json"], state=st3, check=0).stdout)
        self.assertEqual(out["domain"], "alt")
        out = json.loads(run(["list", "--json"], state=st3,
                             env={"CONDUIT_CONFIG": cfg}, check=0).stdout)
        self.assertEqual(out["domain"], "alt")

    def test_hostile_init_values_create_nothing(self):
        bad = [
            ["--domain", "internal\nserver=/x/1.1.1.1"],
            ["--domain", "in ternal"],
            ["--domain", "-internal"],
            ["--listen", "0.0.0.0 --conf-file=/etc/passwd"],
            ["--listen", "localhost"],
            ["--gateway-ip", "10.0.0.300"],
            ["--https-port", "443; rm -rf /"],
            ["--https-port", "0"],
            ["--http-port", "70000"],
            ["--dns-port", "-53"],
            ["--upstream-dns", "8.8.8.8;rm"],
            ["--upstream-dns", "1.1.1.1,,"],
            ["--https-port", "8080", "--http-port", "8080"],
        ]
        for args in bad:
            with self.subTest(args=args):
                p = run(["init"] + args, state=self.state)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertFalse(os.path.exists(self.state))

    def test_settings_file_errors_name_the_position(self):
        run(["init", "--listen", "127.0.0.1"], state=self.state, check=0)
        cfg = os.path.join(self.state, "conduit.yaml")
        with open(cfg, "a") as f:
            f.write("helth:\n  path: /x\n")
        p = run(["list"], state=self.state, check=1)
        self.assertRegex(p.stderr, r"conduit\.yaml:\d+:\d+: unknown setting \"helth\"")
        text = open(cfg).read().replace("helth:\n  path: /x\n", "https_port: 99999\n")
        open(cfg, "w").write(text)
        p = run(["list"], state=self.state, check=1)
        self.assertRegex(p.stderr, r"conduit\.yaml:\d+:\d+: https_port \"99999\" is out of range")


class CommandLineTest(StateDirTest):
    def test_exit_codes(self):
        self.assertEqual(self.conduit("frobnicate").returncode, 2)
        self.assertEqual(self.conduit("list", "--bogus").returncode, 2)
        self.assertEqual(self.conduit("register", "a", "--host").returncode, 2)
        self.assertEqual(self.conduit("register", "a", "--host=", "--port", "1").returncode, 2)
        self.assertEqual(self.conduit("register", "a", "--host", "", "--port", "1").returncode, 2)
        self.assertEqual(self.conduit("register", "a", "--host", "127.0.0.1").returncode, 2)
        self.assertEqual(self.conduit("register", "a", "--host", "127.0.0.1",
                                      "--port", "0", "--no-reload").returncode, 1)
        self.assertEqual(run(["--state-dir"]).returncode, 2)
        self.assertEqual(run(["--bogus", "list"]).returncode, 2)
        self.assertEqual(run([]).returncode, 2)

    def test_help_and_version(self):
        p = run(["--version"], check=0)
        self.assertRegex(p.stdout, r"^conduit \d+\.\d+\.\d+\n$")
        self.assertEqual(run(["version"], check=0).stdout, p.stdout)
        a = run(["help", "register"], check=0).stdout
        b = run(["register", "--help"], check=0).stdout
        c = run(["register", "-h"], check=0).stdout
        self.assertEqual(a, b)
        self.assertEqual(b, c)
        for opt in ("--name", "--host", "--port", "--upstream", "--health", "--scheme",
                    "--no-tls", "--dns-only", "--alias", "--no-reload"):
            self.assertIn(opt, a)
        # --help works without any state directory.
        self.assertEqual(run(["register", "--help"], state="/nonexistent/x").returncode, 0)
        top = run(["help"], check=0).stdout
        for cmd in ("init", "register", "deregister", "list", "audit"):
            self.assertIn(cmd, top)
        self.assertEqual(run(["help", "nope"]).returncode, 2)

    def test_both_option_forms(self):
        self.conduit("register", "--name=a", "--host=127.0.0.1", "--port=81", "--no-reload", check=0)
        self.conduit("register", "--name", "b", "--host", "127.0.0.1", "--port", "82",
                     "--no-reload", check=0)
        self.conduit("register", "c", "--host", "127.0.0.1", "--port", "83", "--no-reload", check=0)
        names = [s["name"] for s in json.loads(self.conduit("list", "--json", check=0).stdout)["services"]]
        self.assertEqual(names, ["a", "b", "c"])
        p = self.conduit("register", "--name", "d", "e", "--host", "127.0.0.1", "--port", "1")
        self.assertEqual(p.returncode, 2)

    def test_missing_state_dir_is_explained(self):
        p = run(["list"], state=os.path.join(self.tmp, "nope"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("conduit init", p.stderr)


class RegistryTest(StateDirTest):
    def register(self, *args, check=0):
        return self.conduit("register", *args, "--no-reload", check=check)

    def test_register_list_schema(self):
        self.register("Ollama", "--host", "127.0.0.20", "--port", "11434", "--health", "/api/tags",
                      "--upstream", "127.0.0.21:11434", "--upstream", "[::1]:11435",
                      "--alias", "llm", "--scheme", "http")
        self.register("pg", "--host", "db.lab.example", "--port", "5432", "--dns-only")
        doc = json.loads(self.conduit("list", "--json", check=0).stdout)
        self.assertEqual(doc["version"], 1)
        self.assertEqual(doc["domain"], "internal")
        s = doc["services"][0]
        self.assertEqual(s["name"], "ollama")  # folded to lowercase
        self.assertEqual(s["upstreams"], [{"host": "127.0.0.20", "port": 11434},
                                          {"host": "127.0.0.21", "port": 11434},
                                          {"host": "::1", "port": 11435}])
        self.assertEqual(s["health_path"], "/api/tags")
        self.assertEqual(s["aliases"], ["llm"])
        self.assertTrue(s["tls"])
        self.assertFalse(s["dns_only"])
        self.assertEqual(s["status"], "active")
        self.assertEqual(s["health"], "unknown")
        self.assertEqual(s["fqdn"], "ollama.internal")
        self.assertEqual(s["url"], "https://ollama.internal:%d/" % self.https_port)
        self.assertIsNone(s["deregistered_at"])
        self.assertRegex(s["registered_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        pg = doc["services"][1]
        self.assertTrue(pg["dns_only"])
        self.assertIsNone(pg["url"])
        table = self.conduit("list", check=0).stdout
        self.assertIn("ollama", table)
        self.assertIn("[::1]:11435", table)
        self.assertNotIn("\033[", table)  # no colour when not a TTY

    def test_duplicates_and_history(self):
        self.register("api", "--host", "127.0.0.1", "--port", "8000")
        before = self.services_json()
        p = self.register("API", "--host", "127.0.0.2", "--port", "9000", check=1)
        self.assertIn("already registered", p.stderr)
        self.assertEqual(before, self.services_json())
        # An alias may not take an active name either, nor the reverse.
        self.register("other", "--host", "127.0.0.1", "--port", "1", "--alias", "api", check=1)
        self.register("x", "--host", "127.0.0.1", "--port", "1", "--alias", "y")
        self.register("y", "--host", "127.0.0.1", "--port", "1", check=1)
        self.conduit("deregister", "api", "--no-reload", check=0)
        self.conduit("deregister", "api", "--no-reload", check=1)
        self.conduit("deregister", "--name", "never", "--no-reload", check=1)
        self.register("api", "--host", "127.0.0.3", "--port", "8003")
        active = json.loads(self.conduit("list", "--json", check=0).stdout)["services"]
        every = json.loads(self.conduit("list", "--all", "--json", check=0).stdout)["services"]
        self.assertEqual(len([s for s in active if s["name"] == "api"]), 1)
        apis = [s for s in every if s["name"] == "api"]
        self.assertEqual([s["status"] for s in apis], ["inactive", "active"])
        self.assertIsNotNone(apis[0]["deregistered_at"])
        self.assertEqual(apis[1]["upstreams"][0]["port"], 8003)

    def test_audit_records_match_conformance(self):
        self.register("hub", "--host", "127.0.0.1", "--port", "8090", "--health", "/healthz")
        self.register("hub", "--host", "127.0.0.1", "--port", "8090", check=1)
        self.conduit("deregister", "hub", "--no-reload", check=0)
        recs = self.audit_records()
        for r in recs:
            self.assertEqual(set(r), AUDIT_FIELDS)
            self.assertRegex(r["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertIn(r["status"], ("success", "failure"))
            self.assertIsInstance(r["details"], dict)
        reg = [r for r in recs if r["action"] == "service_register"]
        self.assertEqual([r["status"] for r in reg], ["success", "failure"])
        d = reg[0]["details"]
        for k, v in {"name": "hub", "host": "127.0.0.1", "port": "8090",
                     "protocol": "https", "health_path": "/healthz", "tls": True}.items():
            self.assertEqual(d[k], v)
        dereg = [r for r in recs if r["action"] == "service_deregister"]
        self.assertEqual(dereg[-1]["details"], {"name": "hub"})
        # The project's own validator agrees, line by line.
        p = self.conduit("audit", "lint", check=0)
        self.assertIn("0 invalid", p.stdout)
        tail = self.conduit("audit", "tail", "-n", "3", "--json", check=0).stdout.splitlines()
        self.assertEqual([json.loads(l)["action"] for l in tail],
                         ["service_register", "service_deregister", "dns_remove"])
        human = self.conduit("audit", "tail", check=0).stdout
        self.assertIn("Deregistered service: hub", human)

    def test_audit_lint_catches_a_bad_record(self):
        with open(os.path.join(self.state, "audit.log"), "a") as f:
            f.write('{"timestamp":"yesterday","action":"x","status":"success",'
                    '"message":"","user":"u","details":{}}\n')
        p = self.conduit("audit", "lint")
        self.assertEqual(p.returncode, 1)
        self.assertIn(":2: field \"timestamp\"", p.stdout)

    def test_corrupt_registry_is_never_replaced(self):
        path = os.path.join(self.state, "services.json")
        garbage = b'{"version": 1, "services": [\n{"name": "a",, }\n]}\n'
        with open(path, "wb") as f:
            f.write(garbage)
        for args in (["list"], ["register", "b", "--host", "127.0.0.1", "--port", "1", "--no-reload"],
                     ["deregister", "a", "--no-reload"]):
            p = self.conduit(*args)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(path, p.stderr)
            self.assertIn("line 2, column", p.stderr)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), garbage)

    def test_symlinked_state_files_are_refused(self):
        path = os.path.join(self.state, "services.json")
        target = os.path.join(self.tmp, "elsewhere.json")
        os.rename(path, target)
        os.symlink(target, path)
        p = self.conduit("register", "a", "--host", "127.0.0.1", "--port", "1", "--no-reload")
        self.assertEqual(p.returncode, 1)
        self.assertIn("symbolic link", p.stderr)
        self.assertTrue(os.path.islink(path))
        audit = os.path.join(self.state, "audit.log")
        os.rename(audit, audit + ".real")
        os.symlink(audit + ".real", audit)
        os.unlink(path)
        os.rename(target, path)
        p = self.conduit("register", "a", "--host", "127.0.0.1", "--port", "1", "--no-reload")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("symbolic link", p.stderr)

    def test_modes_enforced_on_every_write(self):
        path = os.path.join(self.state, "services.json")
        os.chmod(path, 0o644)
        os.chmod(self.state, 0o755)
        os.chmod(os.path.join(self.state, "audit.log"), 0o644)
        self.register("a", "--host", "127.0.0.1", "--port", "1")
        self.assertEqual(mode(path), 0o600)
        self.assertEqual(mode(os.path.join(self.state, "audit.log")), 0o600)
        self.assertEqual(mode(self.state), 0o700)


# Each entry: arguments to `register` and the field its message must name.
HOSTILE = [
    (["--name", "a\nb"], "name"),
    (["--name", 'a"b'], "name"),
    (["--name", "$(reboot)"], "name"),
    (["--name", "../etc"], "name"),
    (["--name=-leading"], "name"),
    (["--name", "trailing-"], "name"),
    (["--name", "a" * 64], "name"),
    (["--name", "x" * 10000], "name"),
    (["--name", "with space"], "name"),
    (["--name", "ollam\u00e4"], "name"),
    (["--name", "a.b"], "name"),
    (["--name", "a_b"], "name"),
    (["--name", '"}],"x":{"'], "name"),
    (["--name="], "--name"),
    (["--host", "10.0.1.256"], "host"),
    (["--host", "10.0.1"], "host"),
    (["--host", "$(id)"], "host"),
    (["--host", "h;rm -rf /"], "host"),
    (["--host", "a\nb"], "host"),
    (["--host", "h" * 300], "host"),
    (["--host=-oProxyCommand=x"], "host"),
    (["--host", "http://10.0.0.1"], "host"),
    (["--host", "010.1.1.1"], "host"),
    (["--host", "::g"], "host"),
    (["--host", "[::1]"], "host"),
    (["--host", "../../etc"], "host"),
    (["--port", "0"], "port"),
    (["--port", "65536"], "port"),
    (["--port=-1"], "port"),
    (["--port", "+80"], "port"),
    (["--port", " 80"], "port"),
    (["--port", "80abc"], "port"),
    (["--port", "9" * 25], "port"),
    (["--port", "0x50"], "port"),
    (["--port="], "--port"),
    (["--health", "no-slash"], "health"),
    (["--health", "/a b"], "health"),
    (["--health", "/$(reboot)"], "health"),
    (["--health", '/a"b'], "health"),
    (["--health", "/../../etc/passwd"], "health"),
    (["--health", "/" + "a" * 300], "health"),
    (["--health", "/x\n}"], "health"),
    (["--scheme", "ftp"], "scheme"),
    (["--scheme", "http\n"], "scheme"),
    (["--upstream", "127.0.0.1"], "upstream"),
    (["--upstream", "127.0.0.1:99999"], "upstream"),
    (["--upstream", "::1:80"], "upstream"),
    (["--upstream", "[10.0.0.1]:80"], "upstream"),
    (["--upstream", '127.0.0.1:80"}]'], "upstream"),
    (["--upstream", "127.0.0.1:8000"], "upstream"),  # duplicate of --host/--port
    (["--alias", "Bad alias"], "alias"),
    (["--alias", "x" * 70], "alias"),
    (["--alias", "svc"], "alias"),  # the service's own name
    (["--alias", "$(x)"], "alias"),
    (["--bogus-flag"], "--bogus-flag"),
]


class HostileInputTest(StateDirTest):
    """Every rejected input: non-zero exit, a one-line error naming the
    field, services.json unchanged, exactly one new audit record (a
    failure), and no temp files left behind."""

    def test_table(self):
        self.assertGreaterEqual(len(HOSTILE), 40)
        self.conduit("register", "keep", "--host", "127.0.0.9", "--port", "9", "--no-reload", check=0)
        for extra, field in HOSTILE:
            args = {"--name": "svc", "--host": "127.0.0.1", "--port": "8000"}
            for e in extra:
                key = e.split("=", 1)[0]
                if key in args:
                    del args[key]
            # Defaults for the fields the entry does not override; an
            # entry's own "--opt=value" or "--opt value" comes last.
            fixed = ["register"]
            for k, v in args.items():
                fixed += [k, v]
            fixed += extra
            before_svc = self.services_json()
            before_audit = len(self.audit_records())
            before_files = sorted(os.listdir(self.state))
            with self.subTest(input=extra):
                p = self.conduit(*fixed, "--no-reload")
                self.assertIn(p.returncode, (1, 2), p.stderr)
                err = p.stderr.strip().splitlines()
                self.assertEqual(len(err), 1, p.stderr)
                self.assertIn(field, err[0])
                self.assertEqual(p.stdout, "")
                self.assertEqual(before_svc, self.services_json())
                recs = self.audit_records()
                self.assertEqual(len(recs), before_audit + 1)
                self.assertEqual(recs[-1]["status"], "failure")
                self.assertEqual(recs[-1]["action"], "service_register")
                self.assertEqual(sorted(os.listdir(self.state)), before_files)
        self.assertEqual(self.conduit("audit", "lint").returncode, 0)


class ConcurrencyTest(StateDirTest):
    def spawn(self, *args):
        return subprocess.Popen([CONDUIT, "--state-dir", self.state] + list(args),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def test_fifty_distinct_names(self):
        procs = [self.spawn("register", "svc-%02d" % i, "--host", "127.0.0.1",
                            "--port", str(8000 + i), "--no-reload") for i in range(50)]
        codes = [p.wait(timeout=120) for p in procs]
        self.assertEqual(codes, [0] * 50)
        doc = json.loads(self.conduit("list", "--json", check=0).stdout)
        self.assertEqual(sorted(s["name"] for s in doc["services"]),
                         ["svc-%02d" % i for i in range(50)])
        recs = [r for r in self.audit_records() if r["action"] == "service_register"]
        self.assertEqual(len(recs), 50)

    def test_twenty_registers_of_one_name(self):
        procs = [self.spawn("register", "same", "--host", "127.0.0.1",
                            "--port", str(9000 + i), "--no-reload") for i in range(20)]
        codes = [p.wait(timeout=120) for p in procs]
        self.assertEqual(codes.count(0), 1)
        self.assertEqual(codes.count(1), 19)
        doc = json.loads(self.conduit("list", "--all", "--json", check=0).stdout)
        self.assertEqual(len(doc["services"]), 1)
        recs = [r for r in self.audit_records() if r["action"] == "service_register"]
        self.assertEqual(sorted(r["status"] for r in recs), ["failure"] * 19 + ["success"])


class CrashSafetyTest(StateDirTest):
    def test_kill_9_leaves_old_or_new_file(self):
        """SIGKILL at random instants during registers: services.json is
        always a complete document holding either the old or the new set."""
        path = os.path.join(self.state, "services.json")
        rng = random.Random(1234)
        known = set()
        for i in range(40):
            before = json.loads(open(path).read())
            names_before = {s["name"] for s in before["services"]}
            p = subprocess.Popen([CONDUIT, "--state-dir", self.state, "register",
                                  "k%02d" % i, "--host", "127.0.0.1", "--port", str(1000 + i),
                                  "--no-reload"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, 0.02))
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            doc = json.loads(open(path).read())  # must always parse
            names = {s["name"] for s in doc["services"]}
            self.assertIn(names - names_before, (set(), {"k%02d" % i}))
            self.assertTrue(names_before <= names)
            known |= names
            # No lock is left held: the next command proceeds.
            self.conduit("list", "--json", check=0, timeout=10)
        leftovers = [f for f in os.listdir(self.state) if f.startswith(".services.json.")]
        # A kill between create and rename may leave a dot-temp file; it is
        # never read, and never the registry itself.
        for f in leftovers:
            self.assertTrue(f.startswith(".services.json."))
        self.assertEqual(self.conduit("audit", "lint").returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
