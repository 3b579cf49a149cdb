#!/usr/bin/env bash
# Install every build and test dependency of conduit on Debian 12 (run as root).
# Idempotent: packages already present are left alone.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config gcc clang git
  libcjson-dev libyaml-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev libcmocka-dev
  caddy dnsmasq-base dnsutils openssh-server openssh-client prometheus
  python3 curl openssl sqlite3 groff-base man-db bash-completion zsh fish procps iproute2 dpkg-dev file binutils
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # prometheus's package would start a server; policy-rc.d keeps daemons from starting.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# dnsmasq started by root drops to this account; its group is the only one
# that may read conduit's DNS records (docs/dns.md).
if ! getent passwd conduit-dns >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: user conduit-dns missing and not root; run as root" >&2
    exit 1
  fi
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin conduit-dns
fi
echo "install-deps: all ${#PKGS[@]} packages present"
