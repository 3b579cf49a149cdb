#!/usr/bin/env bash
# Home GPU lab (docs/guides/home-gpu-lab.md), on loopback:
#   gateway   127.0.0.1            conduit, Caddy, dnsmasq
#   gpu1      127.0.0.21           "Ollama" (stand-in answering /api/tags)
#   gpu2      127.0.0.22           "vLLM"   (stand-in answering /v1/models)
# Both GPU servers are also reached over ssh (a throw-away sshd listening
# on 127.0.0.21 and 127.0.0.22) for `conduit monitor`, and the Prometheus
# textfile the systemd timer would write is written once.
#   CONDUIT=build/conduit examples/guides/home-gpu-lab.sh
. "$(dirname "$0")/lib.sh"

step "1. the gateway: conduit init + up"
init_gateway lab.internal
"$C" up

step "2. the model servers, registered by name"
OLLAMA_PORT=$(free_port); VLLM_PORT=$(free_port)
serve ollama 127.0.0.21 "$OLLAMA_PORT" '/api/tags={"models":[{"name":"llama3:8b"}]}'
serve vllm 127.0.0.22 "$VLLM_PORT" '/v1/models={"data":[{"id":"mistral-7b"}]}' '/health={}'
"$C" register ollama --host 127.0.0.21 --port "$OLLAMA_PORT" --health /api/tags
"$C" register vllm --host 127.0.0.22 --port "$VLLM_PORT" --health /health --alias llm
"$C" list

step "3. clients use names and HTTPS"
expect llama3 through ollama /api/tags
expect mistral through vllm /v1/models
expect mistral through llm /v1/models
expect 127.0.0.1 "$C" dns resolve ollama

step "4. health, and who called what"
expect healthy "$C" status
"$C" status --check
expect /api/tags "$C" logs ollama

step "5. monitor both GPU servers over ssh"
command -v /usr/sbin/sshd >/dev/null || fail "sshd is needed for this step (openssh-server)"
mkdir -p /run/sshd "$WORK/ssh"
SSHD_PORT=$(free_port)
for k in host client; do ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/$k"; done
# The servers run the same conduit (`conduit monitor --local` over ssh).
printf 'environment="PATH=%s:/usr/bin:/bin" %s\n' "$(dirname "$C")" \
  "$(cat "$WORK/ssh/client.pub")" > "$WORK/ssh/authorized_keys"
cat > "$WORK/ssh/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.21
ListenAddress 127.0.0.22
HostKey $WORK/ssh/host
AuthorizedKeysFile $WORK/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitUserEnvironment PATH
PidFile $WORK/ssh/sshd.pid
LogLevel ERROR
CFG
/usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config" 2>"$WORK/ssh/sshd.log" &
PIDS+=($!)
echo "conduit-lab $(cut -d' ' -f1-2 "$WORK/ssh/host.pub")" > "$WORK/ssh/known_hosts"
cat > "$WORK/ssh/config" <<CFG
Host gpu1
  HostName 127.0.0.21
Host gpu2
  HostName 127.0.0.22
Host *
  Port $SSHD_PORT
  User $(id -un)
  IdentityFile $WORK/ssh/client
  IdentitiesOnly yes
  UserKnownHostsFile $WORK/ssh/known_hosts
  HostKeyAlias conduit-lab
  StrictHostKeyChecking yes
  LogLevel ERROR
CFG
for i in $(seq 50); do
  ssh -F "$WORK/ssh/config" -o BatchMode=yes gpu1 true 2>/dev/null && break
  sleep 0.1
done
"$C" monitor --only host --server gpu1 --server gpu2 --ssh-config "$WORK/ssh/config" \
  --json > "$WORK/monitor.json"
python3 - "$WORK/monitor.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
names = [s.get("name") or s.get("server") for s in doc.get("servers", [])]
print("servers in the report:", names)
assert "gpu1" in names and "gpu2" in names, doc
PY

step "6. the Prometheus textfile (what conduit-monitor.timer writes every minute)"
mkdir -p "$WORK/textfile"
"$C" monitor --only host --prometheus-file "$WORK/textfile/conduit.prom" >/dev/null || true
expect conduit_ grep -m3 '^conduit_' "$WORK/textfile/conduit.prom"

step "done: the lab works"
