#!/bin/sh
# bench_monitor.sh - conduit monitor's cost; figures in docs/benchmarks-monitor.md.
#
#   bench/bench_monitor.sh [BUILD_DIR]   (default build-release; N=15 runs each)
#
# 1. monitor --json on this machine, default 200 ms sample window.
# 2. the same with the fake nvidia-smi (2 x H100) and the fake Docker
#    engine serving 50 running containers.
# 3. five servers over loopback ssh, one of them black-holed (accepts TCP,
#    never speaks), ssh_timeout 5s: the run must end within 6 s.
# Wall and CPU (user+sys of conduit and everything it waited for) are
# medians; CPU for 2 includes the fake nvidia-smi's Python start-up, so
# a run without GPUs shows conduit's own share.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-release}
N=${N:-15}
exec python3 - "$top" "$build" "$N" <<'PY'
import os, shutil, statistics, subprocess, sys, tempfile, time
top, build, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, os.path.join(top, "tests", "monitor"))
os.environ.setdefault("CONDUIT_SOURCE_DIR", top)
os.environ["CONDUIT_BIN"] = os.path.join(build, "conduit")
import monitor_env as me
import sshd_env
tl = me.tl

def measure(args, env, runs=n):
    walls, cpus = [], []
    e = dict(os.environ); e.update(env)
    for _ in range(runs):
        t0 = time.monotonic()
        p = subprocess.Popen([tl.CONDUIT] + args, env=e, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        walls.append(time.monotonic() - t0)
        cpus.append(ru.ru_utime + ru.ru_stime)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000

class Case:  # a stand-in TestCase for the helpers' cleanups
    def __init__(self): self.c = []
    def addCleanup(self, f, *a): self.c.append((f, a))
    def skipTest(self, m): raise SystemExit("skip: " + m)
    def fail(self, m): raise SystemExit(m)
    def close(self):
        for f, a in reversed(self.c):
            try: f(*a)
            except Exception: pass

tmp = tempfile.mkdtemp()
case = Case()
try:
    state = os.path.join(tmp, "state")
    tl.run(["init", "--listen", "127.0.0.1"], state=state, check=0)
    base = ["--state-dir", state, "monitor", "--json"]
    plain = {"DOCKER_HOST": "unix:///nonexistent", "PATH": "/usr/bin:/bin"}
    w, c = measure(base, plain)
    print("1. local, no GPU, no Docker:        wall %7.1f ms  cpu %6.2f ms" % (w, c))
    w, c = measure(base + ["--sample-ms", "0"], plain)
    print("   same, --sample-ms 0:             wall %7.1f ms  cpu %6.2f ms" % (w, c))

    sock = me.start_docker(case, extra=["--generate", "50"])
    env = me.gpu_env(DOCKER_HOST="unix://" + sock)
    w, c = measure(base, env)
    print("2. fake 2xH100 + 50 containers:     wall %7.1f ms  cpu %6.2f ms (incl. 2 fake nvidia-smi)" % (w, c))
    w2, c2 = measure(base + ["--only", "host,containers"], env)
    print("   without GPUs (conduit only):     wall %7.1f ms  cpu %6.2f ms" % (w2, c2))

    black = tl.BlackHole(); case.addCleanup(black.stop)
    bindir = os.path.join(tmp, "bin"); os.mkdir(bindir)
    os.symlink(tl.CONDUIT, os.path.join(bindir, "conduit"))
    hosts = {"s%d" % i: [] for i in range(1, 5)}
    hosts["s2"] = ["IdentityFile " + os.path.join(tmp, "pathkey")]
    hosts["blackhole"] = ["Port %d" % black.port]
    cfg = sshd_env.start_sshd(case, tmp, hosts, bindir + ":/usr/bin:/bin")
    args = base + ["--ssh-config", cfg] + sum((["--server", h] for h in hosts), [])
    w, c = measure(args, plain, runs=5)
    print("3. 5 servers over ssh, 1 black-holed (ssh_timeout 5 s): wall %7.1f ms  cpu %6.2f ms  (limit 6000 ms)" % (w, c))
finally:
    case.close()
    shutil.rmtree(tmp, True)
PY
