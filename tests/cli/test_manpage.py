"""docs/conduit.1 against the binary: every command and subcommand has a
section, each section documents exactly the options its --help lists,
options that take a value say their default (or that they are required),
every section has an example, and groff renders the page without a
warning.

The options are read from the roff source: a `.SS "conduit CMD [SUB]"`
section, and in it the first line after each `.TP` (the tag).  The
commands come from `conduit help` and their subcommands from the same
engine that completes them (`conduit __complete`).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import SOURCE, run  # noqa: E402

MAN = os.path.join(SOURCE, "docs", "conduit.1")


def unroff(s):
    s = re.sub(r"\\f[BIRP]", "", s)
    return s.replace("\\-", "-").replace("\\&", "")


def man_sections():
    """{"register": [(tag, paragraph), ...], ...} and each section's text."""
    sections, texts = {}, {}
    cur = None
    lines = open(MAN).read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r'^\.SS "conduit ([a-z][a-z ]*)"', line)
        if m:
            cur = m.group(1)
            sections[cur] = []
            texts[cur] = ""
        elif line.startswith(".SH"):
            cur = None
        elif cur is not None:
            texts[cur] += line + "\n"
            if line == ".TP" and i + 1 < len(lines):
                tag = unroff(lines[i + 1])
                body = []
                j = i + 2
                while j < len(lines) and not re.match(r"^\.(TP|PP|SS|SH)\b", lines[j]):
                    body.append(unroff(lines[j]))
                    j += 1
                sections[cur].append((tag, " ".join(body)))
        i += 1
    return sections, texts


def help_text(words, state):
    p = run(list(words) + ["--help"], state=state, check=0)
    return p.stdout


def help_options(text):
    """{--opt: takes_value} from the options list of a --help text.  The
    parser prints "--opt ARG" (one space) or "--opt[=ARG]" for an option
    with a value, and pads a flag's description with several spaces."""
    opts = {}
    block = text.split("\noptions:\n", 1)[1] if "\noptions:\n" in text else ""
    for line in block.splitlines():
        m = re.match(r"^  (?:-., |    )--([a-z][a-z0-9-]*)(.?.?)", line)
        if not m or m.group(1) == "help":
            continue
        rest = m.group(2)
        opts["--" + m.group(1)] = rest.startswith("[") or (rest[:1] == " " and rest[1:2] not in ("", " "))
    return opts


class ManPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="conduit-man-")
        cls.state = os.path.join(cls.tmp, "s")
        run(["init", "--listen", "127.0.0.1"], state=cls.state, check=0)
        cls.sections, cls.texts = man_sections()
        cls.commands = [m.group(1) for m in
                        re.finditer(r"^  ([a-z][a-z-]*) ", run(["help"], check=0).stdout, re.M)]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def subcommands(self, cmd):
        out = run(["__complete", "--", cmd, ""], check=0).stdout.split()
        if cmd in ("help", "completion"):
            return []   # their positionals are commands and shells
        return [w for w in out if re.match(r"^[a-z]+$", w) and not w.startswith(":")]

    def targets(self):
        """(section name, argv words) for everything the man page covers."""
        for cmd in self.commands:
            subs = self.subcommands(cmd)
            if not subs or cmd in self.sections:
                yield cmd, [cmd]
            for sub in subs:
                if "%s %s" % (cmd, sub) in self.sections:
                    yield "%s %s" % (cmd, sub), [cmd, sub]
                else:
                    self.assertIn(cmd, self.sections,
                                  "docs/conduit.1 has no section for `conduit %s %s`" % (cmd, sub))

    def test_groff_is_clean(self):
        p = subprocess.run(["groff", "-man", "-ww", "-z", MAN], capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_every_command_has_a_section(self):
        self.assertIn("register", self.commands)
        for cmd in self.commands:
            with self.subTest(cmd=cmd):
                self.assertTrue(cmd in self.sections or
                                any(s.startswith(cmd + " ") for s in self.sections),
                                "docs/conduit.1 has no section for `conduit %s`" % cmd)

    def test_options_match_help(self):
        checked = 0
        for name, words in self.targets():
            with self.subTest(section=name):
                want = help_options(help_text(words, self.state))
                tags = [t for t, _ in self.sections[name]]
                got = {m for t in tags for m in re.findall(r"--[a-z][a-z0-9-]*", t)}
                self.assertEqual(got, set(want), "options of `conduit %s` in docs/conduit.1 "
                                 "differ from its --help" % " ".join(words))
                checked += 1
        self.assertGreater(checked, 15)

    def test_value_options_have_defaults_and_sections_examples(self):
        for name, words in self.targets():
            want = help_options(help_text(words, self.state))
            with self.subTest(section=name):
                self.assertRegex(self.texts[name], r"Example",
                                 "section `conduit %s` has no example" % name)
                for tag, body in self.sections[name]:
                    opts = re.findall(r"--[a-z][a-z0-9-]*", tag)
                    if opts and want.get(opts[0]):
                        self.assertRegex(body, r"Default|Required",
                                         "%s of `conduit %s`: no default named" % (opts[0], name))


if __name__ == "__main__":
    unittest.main()
