"""The tamper-evident audit chain, through the built binary.

A scripted session, then `audit verify` at every level; each kind of
tampering must be reported at the sequence it touched, with exit 1.
Independent checks use only the standard library (hashlib.sha3_256,
json, sqlite3) and the openssl CLI, never conduit's own output as the
expected value.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

BIN = os.environ.get("CONDUIT_BIN", "conduit")
SHARED = os.environ.get("CONDUIT_SHARED_DIR", "../shared")


def run(state, *args, stdin=None):
    return subprocess.run([BIN, "--state-dir", state, *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


class ChainTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="conduit-chain-")
        self.state = os.path.join(self.tmp, "state")
        r = run(self.state, "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.script()
        self.db = os.path.join(self.state, "capsules", "capsules.db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def script(self):
        for name, port in (("alpha", 8001), ("beta", 8002), ("gamma", 8003),
                           ("delta", 8004)):
            r = run(self.state, "register", name, "--host", "127.0.0.1",
                    "--port", str(port), "--no-reload")
            self.assertEqual(r.returncode, 0, r.stderr)
        r = run(self.state, "deregister", "beta", "--no-reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        # a refused command is audited (and sealed) as a failure
        r = run(self.state, "deregister", "nosuch", "--no-reload")
        self.assertNotEqual(r.returncode, 0)

    def verify(self, level=None):
        args = ["audit", "verify", "--json"]
        if level:
            args += ["--level", level]
        r = run(self.state, *args)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["valid"], r.returncode == 0)
        return doc

    def rows(self):
        con = sqlite3.connect(self.db)
        try:
            return con.execute("SELECT sequence, id, previous_hash, data, hash,"
                               " signature, signature_pq, signed_at, signed_by"
                               " FROM capsules ORDER BY sequence").fetchall()
        finally:
            con.close()

    def sql(self, stmt, *params):
        con = sqlite3.connect(self.db)
        try:
            con.execute(stmt, params)
            con.commit()
        finally:
            con.close()

    def log_lines(self):
        with open(os.path.join(self.state, "audit.log"), encoding="utf-8") as f:
            return [json.loads(l) for l in f.read().splitlines()]

    # ---- a clean chain ----

    def test_clean_chain_verifies_at_every_level(self):
        n = len(self.log_lines())
        # setup, 4 registers and 1 deregister (each followed by its
        # dns_add / dns_remove), 1 refused deregister
        self.assertEqual(n, 12)
        for level in ("structural", "full", "signatures"):
            doc = self.verify(level)
            self.assertTrue(doc["valid"], doc)
            self.assertEqual(doc["capsules"], n)
            self.assertEqual(doc["audit_records"], n)
            self.assertEqual(doc["head"]["sequence"], n - 1)
            self.assertEqual(doc["head"]["hash"], self.rows()[-1][4])
        r = run(self.state, "audit", "verify")
        self.assertEqual(r.returncode, 0)
        self.assertIn(self.rows()[-1][4], r.stdout)

    def test_store_layout_matches_the_reference(self):
        caps = os.path.join(self.state, "capsules")
        for name in ("key", "keyring.json", "capsules.db"):
            st = os.stat(os.path.join(caps, name))
            self.assertEqual(st.st_mode & 0o777, 0o600, name)
        self.assertEqual(os.path.getsize(os.path.join(caps, "key")), 32)
        with open(os.path.join(caps, "keyring.json")) as f:
            ring = json.load(f)
        self.assertEqual(ring["version"], 1)
        self.assertEqual(ring["active_epoch"], 0)
        ep = ring["epochs"][0]
        self.assertEqual(ep["algorithm"], "ed25519")
        self.assertEqual(ep["fingerprint"], "qp_key_" + ep["public_key_hex"][:4])
        con = sqlite3.connect(self.db)
        ddl = con.execute("SELECT sql FROM sqlite_master WHERE name='capsules'"
                          ).fetchone()[0]
        idx = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")}
        con.close()
        self.assertIn("CONSTRAINT uq_capsule_sequence UNIQUE (sequence)", ddl)
        self.assertIn("signature_pq TEXT NOT NULL", ddl)
        self.assertEqual(idx, {"ix_capsules_sequence", "ix_capsules_session_id",
                               "ix_capsules_hash"})

    def test_capsules_hash_and_link_independently(self):
        """Recompute every hash with Python's own canonical JSON."""
        rows = self.rows()
        prev = None
        for i, (seq, cid, ph, data, h, sig, sigpq, signed_at, by) in enumerate(rows):
            self.assertEqual(seq, i)
            self.assertEqual(ph, prev)
            content = json.loads(data)
            self.assertEqual(hashlib.sha3_256(
                canonical(content).encode()).hexdigest(), h)
            self.assertEqual(content["sequence"], i)
            self.assertEqual(content["id"], cid)
            self.assertEqual(content["type"], "system")
            self.assertEqual(content["spec_version"], "1.0")
            self.assertRegex(content["trigger"]["timestamp"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
            self.assertRegex(signed_at, r"\+00:00$")
            self.assertEqual(sigpq, "")
            self.assertEqual(len(sig), 128)
            self.assertTrue(by.startswith("qp_key_"))
            prev = h

    def test_signatures_verify_with_openssl(self):
        with open(os.path.join(self.state, "capsules", "keyring.json")) as f:
            pub = bytes.fromhex(json.load(f)["epochs"][0]["public_key_hex"])
        # SubjectPublicKeyInfo DER for an Ed25519 key: fixed 12-byte prefix
        der = bytes.fromhex("302a300506032b6570032100") + pub
        pubf = os.path.join(self.tmp, "pub.der")
        with open(pubf, "wb") as f:
            f.write(der)
        for row in self.rows()[:3]:
            msg, sigf = (os.path.join(self.tmp, n) for n in ("m", "s"))
            with open(msg, "wb") as f:
                f.write(row[4].encode())
            with open(sigf, "wb") as f:
                f.write(bytes.fromhex(row[5]))
            r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin",
                                "-keyform", "DER", "-inkey", pubf, "-rawin",
                                "-in", msg, "-sigfile", sigf],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_log_and_chain_hold_the_same_records(self):
        lines = self.log_lines()
        rows = self.rows()
        self.assertEqual(len(lines), len(rows))
        for rec, row in zip(lines, rows):
            c = json.loads(row[3])
            self.assertEqual(c["trigger"]["request"], rec["action"])
            self.assertEqual(c["trigger"]["source"], rec["user"])
            self.assertEqual(c["trigger"]["timestamp"],
                             rec["timestamp"].replace("Z", "+00:00"))
            self.assertEqual(c["outcome"]["status"], rec["status"])
            self.assertEqual(c["outcome"]["summary"], rec["message"])
            self.assertEqual(c["outcome"]["result"], rec["details"])
        self.assertEqual(lines[-1]["status"], "failure")

    def test_export_is_the_sealed_chain(self):
        r = run(self.state, "audit", "export")
        self.assertEqual(r.returncode, 0, r.stderr)
        caps = json.loads(r.stdout)
        rows = self.rows()
        self.assertEqual(len(caps), len(rows))
        for cap, row in zip(caps, rows):
            seal = {k: cap.pop(k) for k in ("hash", "signature", "signature_pq",
                                            "signed_at", "signed_by")}
            self.assertEqual(seal["hash"], row[4])
            self.assertEqual(seal["signature"], row[5])
            self.assertEqual(hashlib.sha3_256(canonical(cap).encode()).hexdigest(),
                             seal["hash"])

    # ---- tampering ----

    def assert_invalid_at(self, seq, level="signatures", words=None):
        doc = self.verify(level)
        self.assertFalse(doc["valid"], doc)
        self.assertEqual(doc["first_bad_sequence"], seq, doc)
        if words:
            self.assertIn(words, doc["reason"])
        r = run(self.state, "audit", "verify", "--level", level)
        self.assertEqual(r.returncode, 1)
        self.assertIn("sequence %d" % seq, r.stdout)

    def test_edited_data_is_detected(self):
        data = self.rows()[3][3]
        c = json.loads(data)
        c["outcome"]["summary"] = "nothing happened here"
        self.sql("UPDATE capsules SET data=? WHERE sequence=3", canonical(c))
        self.assert_invalid_at(3, "full", "hash mismatch")
        self.assert_invalid_at(3, "signatures")

    def test_edited_data_with_matching_log_edit_is_detected(self):
        """An attacker who edits both stores still breaks the hash."""
        lines = self.log_lines()
        lines[2]["message"] = "forged"
        with open(os.path.join(self.state, "audit.log"), "w") as f:
            f.write("".join(json.dumps(l, separators=(",", ":")) + "\n"
                            for l in lines))
        c = json.loads(self.rows()[2][3])
        c["outcome"]["summary"] = "forged"
        self.sql("UPDATE capsules SET data=? WHERE sequence=2", canonical(c))
        self.assert_invalid_at(2, "full", "hash mismatch")

    def test_edited_log_is_detected(self):
        lines = self.log_lines()
        lines[4]["user"] = "mallory"
        with open(os.path.join(self.state, "audit.log"), "w") as f:
            f.write("".join(json.dumps(l, separators=(",", ":")) + "\n"
                            for l in lines))
        self.assert_invalid_at(4, "structural", "audit.log line 5")

    def test_edited_hash_is_detected(self):
        self.sql("UPDATE capsules SET hash=? WHERE sequence=2", "ab" * 32)
        self.assert_invalid_at(2, "full", "hash mismatch")
        # structurally the next capsule no longer links to it
        self.assert_invalid_at(3, "structural", "previous_hash")

    def test_swapped_rows_are_detected(self):
        self.sql("UPDATE capsules SET sequence=-1 WHERE sequence=2")
        self.sql("UPDATE capsules SET sequence=2 WHERE sequence=4")
        self.sql("UPDATE capsules SET sequence=4 WHERE sequence=-1")
        self.assert_invalid_at(2, "structural")
        self.assert_invalid_at(2, "signatures")

    def test_deleted_middle_row_is_detected(self):
        self.sql("DELETE FROM capsules WHERE sequence=3")
        self.assert_invalid_at(3, "structural", "sequence gap")

    def test_truncated_chain_is_detected_by_the_log(self):
        last = len(self.log_lines()) - 1
        self.sql("DELETE FROM capsules WHERE sequence=?", last)
        self.assert_invalid_at(last, "signatures", "no capsule")

    def test_replaced_signature_is_detected(self):
        sig = self.rows()[1][5]
        self.sql("UPDATE capsules SET signature=? WHERE sequence=5", sig)
        self.assert_invalid_at(5, "signatures", "signature")
        self.assertTrue(self.verify("full")["valid"])

    def test_another_key_is_detected(self):
        """Re-seal capsule 4 with an attacker's key: content, hash and
        signature all agree, but the key is not the keyring's."""
        keyf = os.path.join(self.tmp, "evil.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                        keyf], check=True, capture_output=True)
        row = self.rows()[4]
        hexhash = row[4]  # content unchanged; only the signer differs
        msg, sigf = (os.path.join(self.tmp, n) for n in ("m", "s"))
        with open(msg, "wb") as f:
            f.write(hexhash.encode())
        subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", keyf, "-rawin",
                        "-in", msg, "-out", sigf], check=True, capture_output=True)
        with open(sigf, "rb") as f:
            sig = f.read().hex()
        self.sql("UPDATE capsules SET signature=? WHERE sequence=4", sig)
        self.assert_invalid_at(4, "signatures", "signature verification failed")
        # and a capsule claiming a key the keyring does not know
        self.sql("UPDATE capsules SET signed_by='qp_key_zzzz' WHERE sequence=4")
        self.assert_invalid_at(4, "signatures", "not in keyring")

    def test_replaced_keyring_is_detected(self):
        other = os.path.join(self.tmp, "other")
        self.assertEqual(run(other, "init").returncode, 0)
        for name in ("key", "keyring.json"):
            shutil.copy(os.path.join(other, "capsules", name),
                        os.path.join(self.state, "capsules", name))
        self.assert_invalid_at(0, "signatures")

    # ---- tail ----

    def test_tail_filters_and_seal_status(self):
        r = run(self.state, "audit", "tail", "--action", "service_register",
                "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([x["details"]["name"] for x in recs],
                         ["alpha", "beta", "gamma", "delta"])
        r = run(self.state, "audit", "tail", "--service", "beta", "--json")
        self.assertEqual([json.loads(l)["action"] for l in r.stdout.splitlines()],
                         ["service_register", "dns_add",
                          "service_deregister", "dns_remove"])
        r = run(self.state, "audit", "tail", "--since", "1h", "-n", "2", "--json")
        self.assertEqual(len(r.stdout.splitlines()), 2)
        r = run(self.state, "audit", "tail", "--until", "2000-01-01", "--json")
        self.assertEqual(r.stdout, "")
        r = run(self.state, "audit", "tail", "--since", "yesterday-ish")
        self.assertEqual(r.returncode, 2)
        c = json.loads(self.rows()[3][3])
        c["outcome"]["summary"] = "edited"
        self.sql("UPDATE capsules SET data=? WHERE sequence=3", canonical(c))
        r = run(self.state, "audit", "tail", "--seal", "--json")
        seals = {json.loads(l)["sequence"]: json.loads(l)["seal"]
                 for l in r.stdout.splitlines()}
        self.assertEqual(seals[3], "bad-hash")
        self.assertEqual(seals[2], "sealed")


class HashCommandTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="conduit-hash-")
        self.state = os.path.join(self.tmp, "state")
        self.assertEqual(run(self.state, "init").returncode, 0)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fixture_text(self, name):
        """The capsule_dict of a fixture as its source text, numbers intact."""
        with open(os.path.join(SHARED, "conformance", "capsule", name),
                  encoding="utf-8") as f:
            return json.load(f)["fixtures"]

    def test_golden_vectors(self):
        for fx in self.fixture_text("fixtures.json"):
            text = json.dumps(fx["capsule_dict"], ensure_ascii=False)
            # json.dumps writes 0.0 as 0.0, so float-ness survives the trip
            r = run(self.state, "audit", "hash", "-", stdin=text)
            self.assertEqual(r.returncode, 0, fx["name"] + r.stderr)
            self.assertEqual(r.stdout.strip(), fx["sha3_256_hash"], fx["name"])
            r = run(self.state, "audit", "hash", "--canonical", stdin=text)
            self.assertEqual(r.stdout.rstrip("\n"), fx["canonical_json"], fx["name"])

    def test_invalid_vectors_name_field_and_category(self):
        for fx in self.fixture_text("invalid-fixtures.json"):
            d = dict(fx["capsule_dict"])
            if "claimed_hash" in fx:
                d["hash"] = fx["claimed_hash"]
            path = os.path.join(self.tmp, "c.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(d, f)
            r = run(self.state, "audit", "hash", path)
            self.assertEqual(r.returncode, 1, fx["name"])
            self.assertIn(fx["error_field"] + ": " + fx["expected_error"],
                          r.stderr, fx["name"])


class ConcurrencyTest(unittest.TestCase):
    def test_twenty_writers_leave_a_valid_chain(self):
        tmp = tempfile.mkdtemp(prefix="conduit-conc-")
        try:
            state = os.path.join(tmp, "state")
            self.assertEqual(run(state, "init").returncode, 0)

            def reg(i):
                return run(state, "register", "svc%02d" % i, "--host",
                           "127.0.0.1", "--port", str(9000 + i), "--no-reload")

            with ThreadPoolExecutor(max_workers=20) as ex:
                results = list(ex.map(reg, range(20)))
            for r in results:
                self.assertEqual(r.returncode, 0, r.stderr)
            con = sqlite3.connect(os.path.join(state, "capsules", "capsules.db"))
            seqs = [r[0] for r in con.execute(
                "SELECT sequence FROM capsules ORDER BY sequence")]
            con.close()
            # setup, then service_register + dns_add per register
            self.assertEqual(seqs, list(range(41)))
            r = run(state, "audit", "verify", "--json")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(json.loads(r.stdout)["capsules"], 41)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class ListAtTest(unittest.TestCase):
    """`list --at` against a history written with known timestamps."""

    def test_registry_at_past_moments(self):
        tmp = tempfile.mkdtemp(prefix="conduit-at-")
        try:
            state = os.path.join(tmp, "state")
            self.assertEqual(run(state, "init").returncode, 0)

            def rec(ts, action, details, status="success"):
                return json.dumps({"timestamp": ts, "action": action,
                                   "status": status, "message": "", "user": "t",
                                   "details": details}, separators=(",", ":"))

            def reg(name, host, port):
                return {"name": name, "host": host, "port": str(port),
                        "protocol": "https", "health_path": "/", "tls": True,
                        "upstreams": ["%s:%d" % (host, port)], "aliases": []}

            history = [
                rec("2026-03-01T10:00:00Z", "service_register", reg("hub", "10.0.0.1", 8090)),
                rec("2026-03-02T10:00:00Z", "service_register", reg("llm", "10.0.0.2", 11434)),
                rec("2026-03-03T10:00:00Z", "service_deregister", {"name": "nope"}, "failure"),
                rec("2026-03-04T10:00:00Z", "service_deregister", {"name": "hub"}),
                rec("2026-03-05T10:00:00Z", "service_register", reg("hub", "10.0.0.9", 9000)),
            ]
            with open(os.path.join(state, "audit.log"), "w") as f:
                f.write("\n".join(history) + "\n")

            def at(when):
                r = run(state, "list", "--at", when, "--json")
                self.assertEqual(r.returncode, 0, r.stderr)
                return {s["name"]: ["%s:%d" % (u["host"], u["port"])
                                    for u in s["upstreams"]]
                        for s in json.loads(r.stdout)["services"]}

            self.assertEqual(at("2026-02-28"), {})
            self.assertEqual(at("2026-03-01T10:00:00Z"), {"hub": ["10.0.0.1:8090"]})
            self.assertEqual(at("2026-03-03"), {"hub": ["10.0.0.1:8090"],
                                               "llm": ["10.0.0.2:11434"]})
            self.assertEqual(at("2026-03-04T12:00"), {"llm": ["10.0.0.2:11434"]})
            self.assertEqual(at("2026-03-06"), {"hub": ["10.0.0.9:9000"],
                                               "llm": ["10.0.0.2:11434"]})
            r = run(state, "list", "--at", "last tuesday")
            self.assertEqual(r.returncode, 2)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
