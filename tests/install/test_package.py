"""Installation: `cmake --install` puts every file in its standard place,
and `cpack -G DEB` builds a package that unpacks (dpkg -x) into a scratch
root whose conduit runs, whose man page renders, whose bash completion
works with the installed binary, and whose Depends names the package of
every shared library the binary needs.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import CONDUIT, run  # noqa: E402

BUILD = os.environ.get("CONDUIT_BUILD_DIR")

EXPECTED = [
    "bin/conduit",
    "share/man/man1/conduit.1",
    "share/bash-completion/completions/conduit",
    "share/zsh/vendor-completions/_conduit",
    "share/fish/vendor_completions.d/conduit.fish",
    "lib/systemd/system/conduit-caddy.service",
    "lib/systemd/system/conduit.target",
    "share/doc/conduit/examples/conduit.yaml",
    "share/doc/conduit/gateway.md",
]

# Libraries the sanitizer build adds; a release build has none of them.
SANITIZER_PKGS = re.compile(r"^lib(asan|ubsan|lsan|tsan)\d+$")


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


class PackageTest(unittest.TestCase):
    def setUp(self):
        if not BUILD:
            self.fail("CONDUIT_BUILD_DIR is not set (run through ctest)")
        self.tmp = tempfile.mkdtemp(prefix="conduit-pkg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_cmake_install_layout(self):
        root = os.path.join(self.tmp, "root")
        p = sh(["cmake", "--install", BUILD, "--prefix", os.path.join(root, "usr")])
        self.assertEqual(p.returncode, 0, p.stderr)
        for rel in EXPECTED:
            self.assertTrue(os.path.isfile(os.path.join(root, "usr", rel)), rel)
        self.assertTrue(os.access(os.path.join(root, "usr/bin/conduit"), os.X_OK))
        # The installed completion is the one the binary prints.
        with open(os.path.join(root, "usr/share/bash-completion/completions/conduit")) as f:
            self.assertEqual(f.read(), run(["completion", "bash"], check=0).stdout)

    def test_deb_unpacks_and_runs(self):
        out = os.path.join(self.tmp, "out")
        p = sh(["cpack", "-G", "DEB", "-B", out, "--config",
                os.path.join(BUILD, "CPackConfig.cmake")])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(out))
        deb = os.path.join(out, debs[0])

        fields = sh(["dpkg-deb", "-f", deb, "Package", "Depends"]).stdout
        self.assertIn("Package: conduit", fields)
        depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1)
        dep_names = {d.strip().split()[0] for d in depends.split(",")}
        self.assertTrue({"caddy", "dnsmasq-base"} <= dep_names, depends)

        listing = sh(["dpkg-deb", "-c", deb]).stdout
        for rel in EXPECTED:
            self.assertIn("./usr/" + rel, listing)

        root = os.path.join(self.tmp, "scratch")
        p = sh(["dpkg", "-x", deb, root])
        self.assertEqual(p.returncode, 0, p.stderr)
        conduit = os.path.join(root, "usr/bin/conduit")
        p = sh([conduit, "--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^conduit \d+\.\d+\.\d+\n$")
        self.assertEqual(p.stdout, run(["--version"], check=0).stdout)

        # The installed man page renders without a warning.
        p = sh(["groff", "-man", "-ww", "-z", os.path.join(root, "usr/share/man/man1/conduit.1")])
        self.assertEqual((p.returncode, p.stderr), (0, ""))

        # The installed bash completion, with the installed binary on PATH.
        env = dict(os.environ, PATH=os.path.dirname(conduit) + os.pathsep + os.environ["PATH"])
        script = ('source %s; COMP_WORDS=(conduit reg); COMP_CWORD=1; _conduit; '
                  'printf "%%s\\n" "${COMPREPLY[@]}"'
                  % os.path.join(root, "usr/share/bash-completion/completions/conduit"))
        p = sh(["bash", "--norc", "--noprofile", "-c", script], env=env)
        self.assertEqual(p.stdout.split(), ["register"], p.stderr)

        # Every shared library the binary needs comes from a package the
        # .deb depends on (or from libc6, which every system has).
        needed = re.findall(r"NEEDED\s+(\S+)", sh(["objdump", "-p", conduit]).stdout)
        self.assertIn("libcjson.so.1", needed)
        cache = sh(["ldconfig", "-p"]).stdout
        for lib in needed:
            with self.subTest(lib=lib):
                m = re.search(r"^\s*%s \(libc6,x86-64[^)]*\) => (\S+)$" % re.escape(lib), cache, re.M)
                self.assertIsNotNone(m, "%s is not in the linker cache" % lib)
                owner = sh(["dpkg", "-S", os.path.realpath(m.group(1))]).stdout
                if not owner:
                    owner = sh(["dpkg", "-S", m.group(1)]).stdout
                pkg = owner.split(":")[0]
                if pkg == "libc6" or SANITIZER_PKGS.match(pkg):
                    continue
                self.assertIn(pkg, dep_names, "%s (package %s) missing from Depends: %s"
                              % (lib, pkg, depends))


if __name__ == "__main__":
    unittest.main()
