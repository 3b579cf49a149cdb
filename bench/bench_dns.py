#!/usr/bin/env python3
"""DNS at 10,000 names: register-to-resolvable time and query latency
during registrations (issue 4).  Loopback only.

    python3 bench/bench_dns.py [--conduit build/conduit] [--names 10000]
        [--rounds 30] [--registrations 100]

Seeds services.json with N names (cloned from one record written by
`conduit register`, so the schema is conduit's own), starts conduit's
dnsmasq, then (all names are --dns-only, so Caddy's rendering never changes
and the transaction does not contact it: this measures DNS alone)
  1. rounds x: `conduit register` a new name; from the moment it returns,
     poll with UDP queries until the name answers; report the delay;
  2. a second thread queries existing names back to back (1 s timeout)
     while the main thread runs `registrations` registers; report
     p50/p99/max latency and the number of timeouts.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "dns"))
from test_dns import free_port, quick_query  # noqa: E402


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conduit", default="build/conduit")
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--registrations", type=int, default=100)
    a = ap.parse_args()
    conduit = os.path.abspath(a.conduit)

    tmp = tempfile.mkdtemp(prefix="conduit-bench-dns-")
    os.chmod(tmp, 0o711)
    state = os.path.join(tmp, "state")
    port = free_port()

    def run(*args):
        p = subprocess.run([conduit, "--state-dir", state] + list(args),
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise SystemExit("conduit %s: %s" % (" ".join(args), p.stderr))
        return p

    try:
        run("init", "--listen", "127.0.0.1", "--https-port",
            str(free_port()), "--http-port", "0", "--dns-port", str(port),
            "--gateway-ip", "127.0.0.44")
        run("register", "seed", "--host", "127.0.0.9", "--port", "80", "--dns-only")
        path = os.path.join(state, "services.json")
        with open(path) as f:
            doc = json.load(f)
        base = doc["services"][0]
        for i in range(a.names - 1):
            rec = dict(base)
            rec["name"] = "n%05d" % i
            doc["services"].append(rec)
        with open(path, "w") as f:
            json.dump(doc, f)
        t0 = time.monotonic()
        run("dns", "start")
        print("dnsmasq start with %d names: %.1f ms" %
              (a.names, (time.monotonic() - t0) * 1e3))
        rc, an = quick_query(port, "n00042.internal", timeout=1)
        assert rc == 0 and an == 1, "seeded names do not resolve"

        # 1. register returns -> name resolves.
        delays, reg_times = [], []
        for i in range(a.rounds):
            name = "new%03d" % i
            t0 = time.monotonic()
            run("register", name, "--host", "127.0.0.9", "--port", "80", "--dns-only")
            t1 = time.monotonic()
            reg_times.append((t1 - t0) * 1e3)
            while True:
                rc, an = quick_query(port, name + ".internal", timeout=0.5)
                if rc == 0 and an == 1:
                    break
                if time.monotonic() - t1 > 5:
                    raise SystemExit("%s not resolvable after 5 s" % name)
            delays.append((time.monotonic() - t1) * 1e3)
        print("names: %d; rounds: %d" % (a.names + a.rounds, a.rounds))
        print("register wall time: median %.1f ms, p95 %.1f ms" %
              (statistics.median(reg_times), pct(reg_times, 95)))
        print("register returned -> resolvable: median %.2f ms, p95 %.2f ms,"
              " max %.2f ms" % (statistics.median(delays), pct(delays, 95),
                                max(delays)))

        # 2. query latency while registrations happen.
        lat, timeouts, stop = [], [0], [False]

        def querier():
            i = 0
            while not stop[0]:
                name = "n%05d.internal" % (i % (a.names - 1))
                t = time.monotonic()
                rc, an = quick_query(port, name, timeout=1.0)
                if rc is None:
                    timeouts[0] += 1
                elif rc != 0 or an != 1:
                    raise SystemExit("%s answered rcode %s" % (name, rc))
                else:
                    lat.append((time.monotonic() - t) * 1e3)
                i += 1

        th = threading.Thread(target=querier)
        th.start()
        t0 = time.monotonic()
        try:
            for i in range(a.registrations):
                run("register", "load%03d" % i, "--host", "127.0.0.9",
                    "--port", "80", "--dns-only")
        finally:
            stop[0] = True
            th.join()
        span = time.monotonic() - t0
        print("during %d registrations (%.1f s): %d queries, p50 %.3f ms, "
              "p99 %.3f ms, max %.3f ms, timeouts %d" %
              (a.registrations, span, len(lat), pct(lat, 50), pct(lat, 99),
               max(lat), timeouts[0]))
    finally:
        subprocess.run([conduit, "--state-dir", state, "dns", "stop"],
                       capture_output=True, timeout=30)
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
