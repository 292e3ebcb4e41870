#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine. Safe to re-run.
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v find >/dev/null || need+=(findutils)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing packages: ${need[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi
