#!/usr/bin/env bash
# conduit's main job on an embedded default: a state directory inside the
# checkout (.conduit-demo/), loopback addresses and high ports.
#
#   sudo scripts/demo.sh          install, build, run the demo
#   scripts/demo.sh --no-install  skip apt-get (dependencies present)
#
# It initialises conduit, starts demo upstream servers on 127.0.0.x,
# registers them, lists them and shows the audit trail.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" != "--no-install" ]; then
  bash scripts/install-deps.sh
fi
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONDUIT_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" >/dev/null

STATE="$ROOT/.conduit-demo"
export CONDUIT_STATE_DIR="$STATE"
C="$ROOT/build-demo/conduit"
HTTPS_PORT=${DEMO_HTTPS_PORT:-18443}
HTTP_PORT=${DEMO_HTTP_PORT:-18080}
DNS_PORT=${DEMO_DNS_PORT:-18053}

# Start from a clean demo state: stop what an earlier run left running.
if [ -d "$STATE" ]; then
  "$C" down >/dev/null 2>&1 || true
  rm -rf "$STATE"
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "conduit init (loopback, high ports)"
"$C" init --listen 127.0.0.1 --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" \
  --dns-port "$DNS_PORT" --domain internal

# Demo upstreams: real HTTP servers on loopback, stopped on exit.
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
serve() { # name addr port
  mkdir -p "$STATE/demo-www/$1"
  echo "hello from $1" > "$STATE/demo-www/$1/index.html"
  python3 -m http.server "$3" --bind "$2" --directory "$STATE/demo-www/$1" >/dev/null 2>&1 &
  PIDS+=($!)
}
serve api 127.0.0.11 18001
serve hub 127.0.0.12 18002
serve ollama 127.0.0.13 18003
# Wait until they listen (bounded): Caddy's first active health check
# would otherwise hold an upstream out for a whole interval.
for addr in 127.0.0.11:18001 127.0.0.12:18002 127.0.0.13:18003; do
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null && break
    sleep 0.1
  done
done

# The state dir's parent must let dnsmasq's unprivileged user pass through
# to the records (see docs/dns.md); the checkout normally does.
step "conduit up: Caddy (HTTPS gateway) and dnsmasq (DNS) on loopback"
"$C" up
trap '"$C" down >/dev/null 2>&1 || true; cleanup' EXIT

step "conduit register: a name, a TLS route and a DNS record in one command"
"$C" register --name api --host 127.0.0.11 --port 18001 --health /
"$C" register --name hub --host 127.0.0.12 --port 18002 --alias frontend
"$C" register --name ollama --host 127.0.0.13 --port 18003
"$C" register --name postgres --host 127.0.0.14 --port 5432 --dns-only

step "conduit list"
"$C" list

step "DNS: ollama.internal resolves through conduit's dnsmasq"
"$C" dns resolve ollama
dig @127.0.0.1 -p "$DNS_PORT" +short frontend.internal

step "HTTPS through the gateway, verified against conduit's own CA"
CA=$("$C" certs ca)
for i in $(seq 1 50); do  # Caddy issues the leaf just after the load
  curl -sf --cacert "$CA" --resolve "ollama.internal:$HTTPS_PORT:127.0.0.1" \
    "https://ollama.internal:$HTTPS_PORT/" -o /dev/null && break
  sleep 0.1
done
curl -sS --cacert "$CA" --resolve "ollama.internal:$HTTPS_PORT:127.0.0.1" \
  "https://ollama.internal:$HTTPS_PORT/"
"$C" certs

step "conduit logs: the requests Caddy served"
"$C" logs -n 5

step "conduit status: every service probed at once"
"$C" status || true

step "a bad value changes nothing"
"$C" register --name api2 --host 127.0.0.1 --port 70000 || true

step "conduit monitor (this host; GPUs and containers when present)"
"$C" monitor || true

step "conduit apply: the whole stack from one file (plan first)"
"$C" apply -f examples/services.yaml --dry-run || true   # exit 1: changes pending
"$C" apply -f examples/services.yaml
"$C" apply -f examples/services.yaml                     # no changes

step "conduit audit tail"
"$C" audit tail -n 10

step "conduit audit verify (signed, hash-chained capsules)"
"$C" audit verify

step "conduit down"
"$C" down
echo
echo "state directory: $STATE; everything conduit wrote is there."
echo "Run it again live: CONDUIT_STATE_DIR=$STATE $C up"
