#!/usr/bin/env python3
"""How long one `conduit register` takes through a real Caddy, and how
much of that is Caddy's own /load.

For each registry size N (default 10, 100, 1000): a fresh state dir on
loopback, N-1 services registered with --no-reload, `conduit up` (which
loads them all), then R timed `conduit register` runs that each add one
service (wall time of the whole process, Caddy load included).  After
each register the config it left in caddy/caddy.json is posted to
Caddy's /load again (with must-revalidate, so Caddy really reloads it)
over the admin socket from this process, which is Caddy's own time for
a config of that size.  conduit's share = register - load.  The same
register with --no-reload (then deregistered again) is timed too: that
is conduit's own work without Caddy (process start, validation, two
renders, the durable writes of services.json, caddy.json and the audit
log and chain).

    python3 bench/bench_caddy.py --conduit build-rel/conduit [--sizes 10,100,1000] [--runs 15]
"""
import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def caddy_load(sock, body):
    c = UnixHTTP(sock)
    t0 = time.perf_counter()
    c.request("POST", "/load", body, {"Host": "", "Content-Type": "application/json",
                                      "Cache-Control": "must-revalidate"})
    r = c.getresponse()
    r.read()
    dt = time.perf_counter() - t0
    c.close()
    if r.status != 200:
        raise SystemExit("caddy /load: HTTP %d" % r.status)
    return dt


def bench(conduit, n, runs):
    d = tempfile.mkdtemp(prefix="cb")
    st = os.path.join(d, "s")

    def c(*a, check=True):
        p = subprocess.run([conduit, "--state-dir", st] + list(a),
                           capture_output=True, text=True, timeout=600)
        if check and p.returncode != 0:
            raise SystemExit("conduit %s: exit %d: %s" % (" ".join(a), p.returncode,
                                                         p.stderr[:1500]))
        return p
    try:
        c("init", "--domain", "bench.internal", "--listen", "127.0.0.1",
          "--https-port", str(free_port()), "--http-port", "0")
        cfg = os.path.join(st, "conduit.yaml")
        y = open(cfg).read().replace("  enabled: true", "  enabled: false")
        open(cfg, "w").write(y)
        for i in range(n - 1):
            c("register", "svc%d" % i, "--host", "127.0.0.%d" % (1 + i % 200),
              "--port", str(10000 + i), "--no-reload")
        c("up")
        sock = os.path.join(st, "run", "caddy-admin.sock")
        conf = os.path.join(st, "caddy", "caddy.json")
        reg, load, files = [], [], []
        for r in range(runs):
            t0 = time.perf_counter()
            c("register", "nr%d" % r, "--host", "127.0.0.1", "--port", "9998",
              "--no-reload")
            files.append(time.perf_counter() - t0)
            c("deregister", "nr%d" % r, "--no-reload")
            t0 = time.perf_counter()
            c("register", "new%d" % r, "--host", "127.0.0.1", "--port", "9999")
            reg.append(time.perf_counter() - t0)
            load.append(caddy_load(sock, open(conf, "rb").read()))
        size = os.path.getsize(conf)
        return reg, load, files, size
    finally:
        subprocess.run([conduit, "--state-dir", st, "down"], capture_output=True)
        shutil.rmtree(d, True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conduit", default="build-rel/conduit")
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    print("%6s %9s | %-17s | %-17s | %-17s | %-17s | %s" % (
        "N", "config", "register ms", "caddy /load ms", "conduit share ms",
        "--no-reload ms", "target ms (2 + 5% load)"))
    print("%6s %9s | %-17s | %-17s | %-17s | %-17s |" % (
        "", "bytes", "median   p95", "median   p95", "median   p95",
        "median   p95"))
    for n in [int(x) for x in a.sizes.split(",")]:
        reg, load, files, size = bench(a.conduit, n, a.runs)
        share = [r - l for r, l in zip(reg, load)]
        ms = lambda v, p: 1000 * (statistics.median(v) if p == 50 else pct(v, p))
        print("%6d %9d | %7.2f %7.2f   | %7.2f %7.2f   | %7.2f %7.2f   | "
              "%7.2f %7.2f   | %.2f" % (
                  n, size, ms(reg, 50), ms(reg, 95), ms(load, 50), ms(load, 95),
                  ms(share, 50), ms(share, 95), ms(files, 50), ms(files, 95),
                  2 + 0.05 * ms(load, 50)))


if __name__ == "__main__":
    main()
