"""The deployment guides' scripts (examples/guides/) run end to end on
loopback against the built conduit, real Caddy, dnsmasq and sshd, so the
guides in docs/guides/ cannot rot.  Each script checks its own results
and exits non-zero on the first one that is wrong."""
import glob
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import CONDUIT, SOURCE  # noqa: E402

GUIDES = os.path.join(SOURCE, "examples", "guides")


class Guides(unittest.TestCase):
    def run_guide(self, name):
        script = os.path.join(GUIDES, name)
        env = dict(os.environ, CONDUIT=os.path.abspath(CONDUIT))
        env.pop("CONDUIT_STATE_DIR", None)
        p = subprocess.run(["bash", script], capture_output=True, text=True, env=env,
                           timeout=240)
        self.assertEqual(p.returncode, 0, "%s failed:\n%s\n%s" % (name, p.stdout[-4000:],
                                                                  p.stderr[-4000:]))
        self.assertIn("== done:", p.stdout)
        self.assertNotIn("FAILED", p.stderr)
        return p.stdout

    def test_home_gpu_lab(self):
        out = self.run_guide("home-gpu-lab.sh")
        self.assertIn("llama3", out)
        self.assertIn("servers in the report:", out)

    def test_clinic(self):
        out = self.run_guide("clinic.sh")
        self.assertIn("REFUSED", out)
        self.assertIn("INVALID at sequence 1", out)

    def test_enclave(self):
        out = self.run_guide("enclave.sh")
        self.assertIn("follow the rules", out)

    def test_every_guide_script_is_tested_and_documented(self):
        scripts = sorted(os.path.basename(p) for p in glob.glob(os.path.join(GUIDES, "*.sh"))
                         if not p.endswith("lib.sh"))
        self.assertEqual(scripts, ["clinic.sh", "enclave.sh", "home-gpu-lab.sh"])
        for s in scripts:
            doc = os.path.join(SOURCE, "docs", "guides", s.replace(".sh", ".md"))
            self.assertTrue(os.path.exists(doc), doc)
            self.assertIn("examples/guides/" + s, open(doc).read())


if __name__ == "__main__":
    unittest.main()
