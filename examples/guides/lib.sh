# Shared by the guide scripts: a throw-away state directory, free high
# ports on loopback, stand-in upstream servers, cleanup on exit.
# Sourced, not run.  Environment:
#   CONDUIT   the conduit binary (default: conduit on PATH)
#   KEEP=1    keep the work directory for a look afterwards
set -euo pipefail

C=${CONDUIT:-conduit}
command -v "$C" >/dev/null || { echo "guide: no conduit binary ($C)" >&2; exit 1; }
C=$(command -v "$C")
WORK=$(mktemp -d /tmp/conduit-guide.XXXXXX)
# dnsmasq drops to its own user, which must pass through to the records
# (docs/dns.md): the work directory is searchable, nothing in it readable.
chmod 0711 "$WORK"
STATE=$WORK/state
export CONDUIT_STATE_DIR=$STATE
PIDS=()

cleanup() {
  "$C" down >/dev/null 2>&1 || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "guide: FAILED: $*" >&2; exit 1; }

# free_port [tcp|udp]: a port free right now on 127.0.0.1.
free_port() {
  python3 -c 'import socket, sys
k = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, k); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "${1:-tcp}"
}

# serve NAME ADDR PORT PATH=BODY...: an HTTP server on ADDR:PORT answering
# each PATH with its JSON BODY (a stand-in for Ollama, vLLM, an EHR...).
serve() {
  local name=$1 addr=$2 port=$3; shift 3
  python3 - "$addr" "$port" "$@" >"$WORK/$name.out" 2>&1 <<'PY' &
import http.server, sys
routes = dict(a.split("=", 1) for a in sys.argv[3:])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = routes.get(self.path.split("?")[0])
        code = 200 if body is not None else 404
        body = (body if body is not None else '{"error":"not found"}').encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
PY
  PIDS+=($!)
  local i
  for i in $(seq 50); do
    python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.2)' \
      "$addr" "$port" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "upstream $name did not start on $addr:$port"
}

# init_gateway DOMAIN [init options...]: conduit on 127.0.0.1, high ports.
init_gateway() {
  DOMAIN=$1; shift
  HTTPS=$(free_port); DNS=$(free_port udp)
  "$C" init --domain "$DOMAIN" --listen 127.0.0.1 --https-port "$HTTPS" \
    --http-port 0 --dns-port "$DNS" "$@"
}

# through NAME PATH: GET https://NAME.DOMAIN:HTTPS/PATH via the gateway,
# trusting only conduit's root (as a client that installed it would).
through() {
  curl -sS --max-time 5 --cacert "${CA_FILE:-$STATE/pki/root.crt}" \
    --resolve "$1.$DOMAIN:$HTTPS:127.0.0.1" "https://$1.$DOMAIN:$HTTPS$2"
}

# expect TEXT COMMAND...: runs COMMAND, shows its output, fails unless
# the output contains TEXT.
expect() {
  local want=$1 out; shift
  out=$("$@" 2>&1) || fail "$* exited $?: $out"
  printf '%s\n' "$out"
  case $out in *"$want"*) ;; *) fail "$*: no \"$want\" in the output" ;; esac
}
