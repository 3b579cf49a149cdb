#!/usr/bin/env bash
# Healthcare clinic (docs/guides/clinic.md), on loopback: air-gapped DNS,
# HTTPS only (no plain HTTP port), clients that trust conduit's root, and
# the audit checks a compliance officer runs.
#   ehr        127.0.0.31   electronic health records (stand-in)
#   pacs       127.0.0.32   imaging archive (stand-in)
#   scribe     127.0.0.33   the clinic's local speech-to-text model
#   CONDUIT=build/conduit examples/guides/clinic.sh
. "$(dirname "$0")/lib.sh"

step "1. an air-gapped gateway: no upstream DNS, no plain HTTP"
init_gateway clinic.internal --upstream-dns none
grep -E '^(upstream_dns|http_port):' "$STATE/conduit.yaml"
"$C" up

step "2. the clinic's services"
for s in ehr:31 pacs:32 scribe:33; do
  name=${s%:*}; addr=127.0.0.${s#*:}; port=$(free_port)
  serve "$name" "$addr" "$port" "/health={\"ok\":true}" "/=\"$name\""
  "$C" register "$name" --host "$addr" --port "$port" --health /health
done

step "3. clients trust conduit's root CA (and nothing else is needed)"
mkdir -p "$WORK/client-trust"
# On a Debian client: conduit certs trust (update-ca-certificates).  Here
# the root is copied into a directory standing in for the client's store.
"$C" certs trust --dest "$WORK/client-trust"
CA_FILE=$(ls "$WORK"/client-trust/*.crt | head -1)
openssl x509 -in "$CA_FILE" -noout -subject -enddate
expect '"ehr"' through ehr /
# A client without the root refuses the connection: TLS is verified.
if curl -sS --max-time 5 --resolve "ehr.$DOMAIN:$HTTPS:127.0.0.1" \
    "https://ehr.$DOMAIN:$HTTPS/" >/dev/null 2>&1; then
  fail "a client without conduit's root connected"
fi
echo "without the root: refused (as it must be)"
expect "signatures verified" "$C" certs inspect ehr

step "4. nothing leaves the building: outside names are refused"
if "$C" dns resolve example.com; then fail "an outside name was answered"; fi
expect 127.0.0.1 "$C" dns resolve pacs

step "5. a change, recorded"
"$C" deregister scribe
expect service_deregister "$C" audit tail -n 5

step "6. the compliance officer's checks"
expect "capsules verified" "$C" audit verify --level signatures
"$C" audit export > "$WORK/chain.json"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(len(c), "sealed records exported")' \
  "$WORK/chain.json"
# Tampering is detected: edit one sealed record in a copy of the state.
cp -a "$STATE" "$WORK/tampered"
sqlite3 "$WORK/tampered/capsules/capsules.db" \
  "UPDATE capsules SET data = replace(data, 'success', 'failure') WHERE sequence = 1"
if "$C" --state-dir "$WORK/tampered" audit verify; then
  fail "an edited record verified"
fi
echo "the edited copy fails verification (exit 1), as it must"

step "done: the clinic works"
