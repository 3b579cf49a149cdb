#!/usr/bin/env python3
"""Benchmark `conduit status --json` with 100 registered services.

usage: bench/bench_status.py CONDUIT_BIN [RUNS] [--gateway]

Two scenarios, each in a fresh state directory on loopback:
  hang:    90 healthy upstreams + 10 that accept connections and never
           answer, timeout 2 s.  Target: the whole run under 1.5 x timeout.
  healthy: all 100 upstreams healthy.  Target: under 100 ms of conduit's
           own time (CPU user+sys), wall time reported beside it.

Upstreams are real HTTP servers in a separate python3 process (one
listening socket per service, served by one selector loop so the
servers answer as fast as Python can).  DNS is disabled; with --gateway
a real Caddy is started with `conduit up` so every service is also
probed through the gateway (needs the gateway issue in the tree).
Prints median and p95 of wall and CPU time per scenario.
"""
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SERVER = r'''
import selectors, socket, sys
n_ok, n_hang = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
ports = []
hold = []
for i in range(n_ok + n_hang):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(256); s.setblocking(False)
    ports.append(s.getsockname()[1])
    if i < n_ok:
        sel.register(s, selectors.EVENT_READ, "listen")
    else:
        hold.append(s)          # accepted by the kernel, never answered
print(" ".join(map(str, ports)), flush=True)
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
while True:
    for key, _ in sel.select():
        if key.data == "listen":
            try:
                c, _ = key.fileobj.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ, "conn")
        else:
            c = key.fileobj
            try:
                data = c.recv(65536)
            except (BlockingIOError, ConnectionError):
                data = b""
            if b"\r\n\r\n" in data or not data:
                try:
                    c.sendall(RESP)
                except OSError:
                    pass
                sel.unregister(c)
                c.close()
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def conduit(binary, state, *args, check=True):
    p = subprocess.run([binary, "--state-dir", state, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit("conduit %s failed: ...%s" % (" ".join(args), p.stderr[:1500]))
    return p


def timed(binary, state, args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([binary, "--state-dir", state, *args], capture_output=True, text=True)
    wall = (time.monotonic() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    if p.returncode != 0:
        raise SystemExit("status failed: %s" % p.stderr)
    return wall, cpu, json.loads(p.stdout)


def p95(v):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]


def scenario(binary, name, n_ok, n_hang, runs, gateway, timeout_s=2):
    tmp = tempfile.mkdtemp(prefix="cbs")  # short: Caddy admin socket path
    state = os.path.join(tmp, "state")
    srv = subprocess.Popen([sys.executable, "-c", SERVER, str(n_ok), str(n_hang)],
                           stdout=subprocess.PIPE, text=True)
    try:
        ports = [int(p) for p in srv.stdout.readline().split()]
        conduit(binary, state, "init", "--domain", "bench.internal", "--listen", "127.0.0.1", "--https-port",
                str(free_port()), "--http-port", "0", "--dns-port", str(free_port()))
        cfg = os.path.join(state, "conduit.yaml")
        with open(cfg) as f:
            text = f.read().replace("  enabled: true", "  enabled: false", 1)
        with open(cfg, "w") as f:
            f.write(text)
        for i, port in enumerate(ports):
            conduit(binary, state, "register", "svc%03d" % i, "--host", "127.0.0.1",
                    "--port", str(port), "--no-reload")
        if gateway:
            conduit(binary, state, "up")
            # Caddy issues leaves after loading the config; one untimed
            # run, then a pause, so the timed runs see a settled gateway.
            time.sleep(2)
            conduit(binary, state, "status", "--json")
            time.sleep(1)
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu, doc = timed(binary, state, ["status", "--json", "--timeout",
                                                   str(timeout_s)])
            walls.append(wall)
            cpus.append(cpu)
        s = doc["summary"]
        print("%-8s services=%d hang=%d runs=%d  wall median %7.1f ms p95 %7.1f ms   "
              "cpu median %6.1f ms p95 %6.1f ms   last: healthy=%d degraded=%d down=%d"
              % (name, len(ports), n_hang, runs, statistics.median(walls), p95(walls),
                 statistics.median(cpus), p95(cpus), s["healthy"], s["degraded"], s["down"]))
        return statistics.median(walls), statistics.median(cpus)
    finally:
        if gateway:
            conduit(binary, state, "down", check=False)
        srv.kill()
        srv.wait()
        shutil.rmtree(tmp, True)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 7
    gateway = "--gateway" in sys.argv
    print("conduit status --json, 100 services, timeout 2 s%s"
          % (", through a real Caddy" if gateway else ", no gateway running"))
    wall, _ = scenario(binary, "hang", 90, 10, runs, gateway)
    print("  target: whole run < 3000 ms (1.5 x timeout): %s"
          % ("met" if wall < 3000 else "NOT met"))
    _, cpu = scenario(binary, "healthy", 100, 0, runs * 2, gateway)
    print("  target: < 100 ms of conduit's own (CPU) time: %s"
          % ("met" if cpu < 100 else "NOT met"))


if __name__ == "__main__":
    main()
