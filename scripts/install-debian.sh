#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need (docs/how-to/run-the-tests.md),
# only when missing.
# Runs as root on Debian 12; prints what it does; exits non-zero when an install fails.
set -euo pipefail
declare -A need=(
  [prometheus]=prometheus [promtool]=prometheus
  [snmpd]=snmpd [snmpget]=snmp
  [hey]=hey [tshark]=tshark [dumpcap]=wireshark-common [sysctl]=procps
  [ping]=iputils-ping [ip]=iproute2 [ethtool]=ethtool
  [chromium]=chromium
  [clang]=clang [llvm-objdump]=llvm [bpftool]=bpftool
  [podman]=podman [runc]=runc [mmdebstrap]=mmdebstrap [newuidmap]=uidmap
)
# Packages without a command, found by a file they install (the eBPF engine's libbpf).
declare -A need_file=(
  [/usr/include/bpf/libbpf.h]=libbpf-dev
  [/usr/lib/$(uname -m)-linux-gnu/libbpf.so.1]=libbpf1
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
for file in "${!need_file[@]}"; do
  [ -e "$file" ] || missing+=("${need_file[$file]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "install-debian: missing ${missing[*]}; run as root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-debian: installing ${missing[*]}"
# Package maintainer scripts must not start services (there is no init system here).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
