#!/usr/bin/env bash
# Defense enclave (docs/guides/enclave.md), on loopback: no upstream DNS at
# all, the audit chain's head anchored in another system (here: a
# directory standing in for the site's records server), and every file
# conduit wrote listed with its owner and mode and checked.
#   analyst    127.0.0.41   the analysts' model gateway (stand-in)
#   vectordb   127.0.0.42   a vector store, DNS only (not HTTP through Caddy)
#   CONDUIT=build/conduit examples/guides/enclave.sh
. "$(dirname "$0")/lib.sh"

step "1. a gateway that forwards no name outside its domain"
init_gateway enclave.internal --upstream-dns none
"$C" up

step "2. services"
PORT=$(free_port)
serve analyst 127.0.0.41 "$PORT" '/health={"ok":true}' '/v1/models={"data":[{"id":"local-70b"}]}'
"$C" register analyst --host 127.0.0.41 --port "$PORT" --health /health
"$C" register vectordb --host 127.0.0.42 --port 6333 --dns-only
expect local-70b through analyst /v1/models
expect 127.0.0.42 "$C" dns resolve vectordb
if "$C" dns resolve example.com; then fail "an outside name was answered"; fi
if "$C" dns resolve nosuch; then fail "an unknown inside name was answered"; fi

step "3. anchor the chain head in another system"
ANCHOR=$WORK/records-server
mkdir -p "$ANCHOR"
"$C" audit verify --json > "$ANCHOR/head-1.json"
python3 - "$ANCHOR/head-1.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
assert h["valid"], h
print("anchored: sequence %d hash %s" % (h["head"]["sequence"], h["head"]["hash"]))
PY

step "4. later: more changes; the anchored head is still in the chain"
"$C" deregister analyst
"$C" audit verify --json > "$WORK/head-2.json"
"$C" audit export > "$WORK/chain.json"
python3 - "$ANCHOR/head-1.json" "$WORK/head-2.json" "$WORK/chain.json" <<'PY'
import json, sys
old = json.load(open(sys.argv[1]))["head"]
new = json.load(open(sys.argv[2]))
chain = json.load(open(sys.argv[3]))
assert new["valid"] and new["head"]["sequence"] > old["sequence"], new
# The capsule at the anchored sequence must carry the anchored hash: a
# chain rewritten or cut back since then cannot.
at = [c for c in chain if c["sequence"] == old["sequence"]]
assert at and at[0]["hash"] == old["hash"], "anchored head not found in the chain"
print("anchored sequence %d still has hash %s; head is now %d"
      % (old["sequence"], old["hash"][:16], new["head"]["sequence"]))
PY

step "5. every file conduit writes, with owner and mode"
"$C" down
(cd "$STATE" && find . -printf '%M %u:%g %p\n' | LC_ALL=C sort -k3) | tee "$WORK/files.txt"
# Rules: nothing world-writable; nothing world-readable but the public
# root certificate; the state dir itself private (0700): dnsmasq's
# records live outside it, in /run/conduit/ID (docs/dns.md).
python3 - "$STATE" <<'PY'
import os, stat, sys
root = sys.argv[1]
bad = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        m = stat.S_IMODE(os.lstat(p).st_mode)
        rel = os.path.relpath(p, root)
        if m & 0o002:
            bad.append("%s is world-writable (%o)" % (rel, m))
        if m & 0o004 and rel != "pki/root.crt":
            bad.append("%s is world-readable (%o)" % (rel, m))
        if os.path.islink(p):
            bad.append("%s is a symlink" % rel)
if stat.S_IMODE(os.stat(root).st_mode) & 0o077:
    bad.append("the state dir is open to its group or others")
print("\n".join(bad) or "all %s files follow the rules" % sum(len(f) for _, _, f in os.walk(root)))
sys.exit(1 if bad else 0)
PY

step "done: the enclave works"
