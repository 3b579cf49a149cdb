#!/usr/bin/env python3
"""A stand-in Docker engine: serves recorded Engine API responses on a
unix socket, for tests and benchmarks (no Docker engine can run here).

    fake_docker.py SOCKET [--dir FIXTURES] [--generate N] [--api 1.43]
                   [--stats-delay-ms MS]

Files are read on every request, so a test can edit a copy of the
fixture folder between two runs (a restart count going up).  --generate
N serves N running containers cloned from the fixtures' first one, with
distinct ids and names (the 50-container benchmark).  Requests to
/vX.Y/... must carry a version no higher than --api, as a real engine
refuses newer clients.  Each request is appended to SOCKET.log.
"""
import argparse
import copy
import json
import os
import re
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "..", "fixtures", "docker")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True


def load(path):
    with open(path) as f:
        return json.load(f)


class Engine:
    def __init__(self, folder, generate, api):
        self.folder = folder
        self.generate = generate
        self.api = api

    def containers(self):
        base = load(os.path.join(self.folder, "containers.json"))
        if not self.generate:
            return base
        out = []
        for i in range(self.generate):
            c = copy.deepcopy(base[0])
            c["Id"] = "%064x" % (0xabc000 + i)
            c["Names"] = ["/svc-%03d" % i]
            out.append(c)
        return out

    def inspect(self, cid):
        if self.generate:
            i = int(cid, 16) - 0xabc000
            doc = load(os.path.join(self.folder, "inspect", self.containers_base_id() + ".json"))
            doc["Id"] = cid
            doc["Name"] = "/svc-%03d" % i
            return doc
        return load(os.path.join(self.folder, "inspect", cid + ".json"))

    def stats(self, cid):
        if self.generate:
            doc = load(os.path.join(self.folder, "stats", self.containers_base_id() + ".json"))
            doc["id"] = cid
            return doc
        return load(os.path.join(self.folder, "stats", cid + ".json"))

    def containers_base_id(self):
        return load(os.path.join(self.folder, "containers.json"))[0]["Id"]


def make_handler(engine, logpath, stats_delay):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "Docker/24.0.7"
        sys_version = "(linux)"

        def log_message(self, fmt, *args):
            pass

        def address_string(self):
            return "unix"

        def send(self, code, body, ctype="application/json", headers=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Api-Version", engine.api)
            self.send_header("Docker-Experimental", "false")
            self.send_header("Ostype", "linux")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            with open(logpath, "a") as f:
                f.write(self.path + "\n")
            path, _, query = self.path.partition("?")
            if path == "/_ping":
                hdr = load(os.path.join(engine.folder, "ping-headers.json"))
                extra = {k: v for k, v in hdr.items()
                         if k.lower() not in ("api-version", "docker-experimental", "ostype", "server")}
                return self.send(200, b"OK", "text/plain; charset=utf-8", extra)
            m = re.match(r"^/v(\d+)\.(\d+)(/.*)$", path)
            if m:
                want = (int(m.group(1)), int(m.group(2)))
                have = tuple(int(x) for x in engine.api.split("."))
                if want > have:
                    return self.send(400, {"message": "client version %d.%d is too new. Maximum supported API version is %s"
                                                      % (want + (engine.api,))})
                path = m.group(3)
            try:
                if path == "/version":
                    return self.send(200, load(os.path.join(engine.folder, "version.json")))
                if path == "/containers/json":
                    cs = engine.containers()
                    if "all=1" not in query and "all=true" not in query:
                        cs = [c for c in cs if c["State"] == "running"]
                    return self.send(200, cs)
                m = re.match(r"^/containers/([0-9a-f]{64})/(json|stats)$", path)
                if m and m.group(2) == "json":
                    return self.send(200, engine.inspect(m.group(1)))
                if m and m.group(2) == "stats":
                    if "stream=false" not in query and "stream=0" not in query:
                        return self.send(400, {"message": "this fake engine only serves stream=false"})
                    doc = engine.stats(m.group(1))
                    if stats_delay:
                        import time
                        time.sleep(stats_delay / 1000.0)
                    return self.send(200, doc)
            except (FileNotFoundError, ValueError):
                pass
            return self.send(404, {"message": "No such container or path: %s" % path})

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--dir", default=DEFAULT_DIR)
    ap.add_argument("--generate", type=int, default=0)
    ap.add_argument("--api", default="1.43")
    ap.add_argument("--stats-delay-ms", type=int, default=0)
    a = ap.parse_args()
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    engine = Engine(a.dir, a.generate, a.api)
    srv = Server(a.socket, make_handler(engine, a.socket + ".log", a.stats_delay_ms))
    print("ready", flush=True)
    try:
        srv.serve_forever()
    finally:
        os.unlink(a.socket)


if __name__ == "__main__":
    sys.exit(main())
