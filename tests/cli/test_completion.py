"""Shell completion: the scripts `conduit completion bash|zsh|fish` print,
loaded into the real shells, offer what the command table and the
registry hold.

bash: the completion function is called the way readline calls it
(COMP_WORDS/COMP_CWORD set, COMPREPLY read back).  fish: `complete -C`,
fish's own non-interactive completion query.  zsh: an interactive zsh -f
on a pseudo-terminal, TAB pressed, the listed candidates read back.

The table-wide checks derive the expected commands and options from
`conduit help` and each command's --help text (the parser's usage
output), so a command that lands later is checked too.
"""
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from conduit_testlib import CONDUIT, StateDirTest, run  # noqa: E402

BIN_DIR = os.path.dirname(os.path.abspath(CONDUIT)) if os.sep in CONDUIT else None


def shell_env(extra=None):
    env = dict(os.environ)
    if BIN_DIR:
        env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "")
    env.pop("CONDUIT_STATE_DIR", None)
    env.pop("CONDUIT_CONFIG", None)
    if extra:
        env.update(extra)
    return env


BASH_DRIVER = r'''
source <(conduit completion bash) || exit 3
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_conduit conduit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


def bash_complete(*words, env=None, cwd=None):
    """Candidates bash's completion function offers for the command line
    `conduit WORDS...` (the last word is the one being completed)."""
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "bash",
                        "conduit"] + list(words),
                       capture_output=True, text=True, env=shell_env(env), cwd=cwd,
                       timeout=30)
    if p.returncode != 0:
        raise AssertionError("bash driver failed (%d): %s" % (p.returncode, p.stderr))
    return sorted(l for l in p.stdout.split("\n") if l)


def help_commands():
    p = run(["help"], check=0)
    return [m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*) ", p.stdout, re.M)]


def help_options(*cmd, state=None):
    """Long options named in the option list of `conduit CMD --help`."""
    p = run(list(cmd) + ["--help"], state=state, check=0)
    opts = set()
    in_opts = False
    for line in p.stdout.splitlines():
        if line.strip() == "options:":
            in_opts = True
            continue
        if in_opts:
            m = re.match(r"^  (?:-., )?\s*(--[a-z][a-z0-9-]*)", line)
            if m:
                opts.add(m.group(1))
            elif line.strip() == "":
                in_opts = False
    return opts


class BashCompletionTest(StateDirTest):
    def setUp(self):
        super().setUp()
        for name, port in (("web", 9001), ("api", 9002), ("old", 9003)):
            self.conduit("register", name, "--host", "127.0.0.1", "--port", str(port),
                         "--no-reload", check=0)
        self.conduit("deregister", "old", "--no-reload", check=0)

    def test_registered_once(self):
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                            "source <(conduit completion bash); complete -p conduit"],
                           capture_output=True, text=True, env=shell_env(), timeout=30)
        self.assertEqual(p.stdout.strip(), "complete -F _conduit conduit")

    def test_commands_are_the_table(self):
        offered = bash_complete("")
        self.assertEqual(offered, sorted(help_commands()))
        self.assertIn("register", offered)
        self.assertNotIn("__complete", offered)
        self.assertEqual(bash_complete("dereg"), ["deregister"])
        self.assertEqual(bash_complete("nosuch"), [])

    def test_every_commands_options_match_its_help(self):
        for cmd in help_commands():
            with self.subTest(cmd=cmd):
                self.assertEqual(set(bash_complete(cmd, "--")),
                                 help_options(cmd) | {"--help"})

    def test_subcommands_and_their_options(self):
        checked = 0
        for cmd in help_commands():
            subs = bash_complete(cmd, "")
            # A command with subcommands offers words that work as one.
            for sub in subs:
                if not re.match(r"^[a-z]+$", sub):
                    continue
                usage = run([cmd, sub, "--help"], state=self.state).stdout
                if not re.match(r"usage: conduit %s %s[ \n]" % (cmd, sub), usage):
                    continue
                with self.subTest(cmd=cmd, sub=sub):
                    self.assertEqual(set(bash_complete(cmd, sub, "--")),
                                     help_options(cmd, sub, state=self.state) | {"--help"})
                    checked += 1
        self.assertGreater(checked, 0, "no command with subcommands was checked")

    def test_service_names_from_the_state_dir_on_the_line(self):
        got = bash_complete("--state-dir", self.state, "deregister", "")
        self.assertEqual(got, ["api", "web"])  # inactive "old" is not offered
        self.assertEqual(bash_complete("--state-dir", self.state, "deregister", "w"), ["web"])
        self.assertEqual(bash_complete("--state-dir=" + self.state, "deregister", "a"), ["api"])

    def test_service_names_from_the_environment(self):
        env = {"CONDUIT_STATE_DIR": self.state}
        self.assertEqual(bash_complete("deregister", "", env=env), ["api", "web"])
        # bash splits --name=VALUE at '='; only the value is completed.
        self.assertEqual(bash_complete("deregister", "--name", "=", "", env=env),
                         ["api", "web"])
        self.assertEqual(bash_complete("deregister", "--name", "=", "w", env=env), ["web"])
        # A second positional is not a service slot.
        self.assertEqual(bash_complete("deregister", "web", "", env=env), [])

    def test_no_state_dir_offers_nothing_and_prints_nothing(self):
        missing = os.path.join(self.tmp, "missing")
        self.assertEqual(bash_complete("--state-dir", missing, "deregister", ""), [])

    def test_paths_for_file_and_dir_values(self):
        work = tempfile.mkdtemp(prefix="conduit-comp-")
        self.addCleanup(shutil.rmtree, work, True)
        open(os.path.join(work, "conf.yaml"), "w").close()
        os.mkdir(os.path.join(work, "statedir"))
        self.assertEqual(bash_complete("--config", "co", cwd=work), ["conf.yaml"])
        self.assertEqual(bash_complete("--state-dir", "", cwd=work), ["statedir"])

    def test_completion_shells_and_help_topics(self):
        self.assertEqual(bash_complete("completion", ""), ["bash", "fish", "zsh"])
        self.assertEqual(bash_complete("help", "lis"), ["list"])

    def test_service_slots_of_later_commands(self):
        """Every command the issues give a service argument, as it exists."""
        env = {"CONDUIT_STATE_DIR": self.state}
        cases = [("logs", ""), ("certs", "inspect", ""), ("certs", "rotate", ""),
                 ("dns", "resolve", ""), ("status", "--service", "")]
        present = set(help_commands())
        checked = 0
        for words in cases:
            if words[0] not in present:
                continue
            with self.subTest(words=words):
                self.assertEqual(bash_complete(*words, env=env), ["api", "web"])
                checked += 1
        self.assertGreater(checked, 0)


class FishCompletionTest(StateDirTest):
    def setUp(self):
        if shutil.which("fish") is None:
            self.fail("fish is not installed (scripts/install-deps.sh installs it)")
        super().setUp()
        self.conduit("register", "web", "--host", "127.0.0.1", "--port", "9001",
                     "--no-reload", check=0)

    def fish(self, line):
        script = "conduit completion fish | source; complete -C%s" % shlex_fish(line)
        p = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True,
                           text=True, env=shell_env(), timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [l.split("\t") for l in p.stdout.splitlines() if l]

    def test_commands_with_descriptions(self):
        got = self.fish("conduit reg")
        self.assertEqual(got, [["register", "add a service: a name, TLS route and DNS record"]])

    def test_services_and_options(self):
        got = self.fish("conduit --state-dir %s deregister " % self.state)
        self.assertEqual([g[0] for g in got], ["web"])
        got = [g[0] for g in self.fish("conduit list --")]
        self.assertEqual(set(got), help_options("list") | {"--help"})
        self.assertIn("--json", got)


def shlex_fish(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ZshCompletionTest(StateDirTest):
    """An interactive zsh on a pty: type, press TAB, read the listing."""

    def setUp(self):
        if shutil.which("zsh") is None:
            self.fail("zsh is not installed (scripts/install-deps.sh installs it)")
        super().setUp()
        for name in ("web", "api"):
            self.conduit("register", name, "--host", "127.0.0.1", "--port", "9001",
                         "--no-reload", check=0)

    def zsh_tab(self, line):
        pid, fd = pty.fork()
        if pid == 0:
            env = shell_env({"TERM": "dumb", "HOME": self.tmp})
            os.execvpe("zsh", ["zsh", "-f", "-i"], env)
        self.addCleanup(self._reap, pid, fd)

        def read_until(marker, timeout=10.0):
            out = b""
            end = time.monotonic() + timeout
            while marker not in out and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return out.decode(errors="replace")

        os.write(fd, b"autoload -U compinit; compinit -u -D; "
                     b"source <(conduit completion zsh); PS1='READY> '\n")
        read_until(b"READY> ")
        os.write(fd, line.encode() + b"\t")
        # Candidates are listed below the line, then the prompt is redrawn.
        return read_until(b"READY> " + line.encode()[:10], timeout=10.0)

    def _reap(self, pid, fd):
        try:
            os.write(fd, b"\x15exit\n")
        except OSError:
            pass
        end = time.monotonic() + 5
        while time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)

    def test_service_names_listed(self):
        out = self.zsh_tab("conduit --state-dir %s deregister " % self.state)
        listing = out.split("\n", 1)[1] if "\n" in out else ""
        self.assertRegex(listing, r"\bapi\b")
        self.assertRegex(listing, r"\bweb\b")

    def test_unique_command_completed_inline(self):
        out = self.zsh_tab("conduit dereg")
        self.assertIn("deregister ", out)


if __name__ == "__main__":
    unittest.main()
