#!/usr/bin/env bash
# Installs the system packages Baton builds against, only when they are missing.
# Debian/Ubuntu: libzmq3-dev (pkg-config libzmq), libsqlite3-dev (pkg-config sqlite3) and
# libmimalloc-dev (the `baton` executable's allocator; it has no pkg-config file).
set -euo pipefail

need=()
pkg-config --exists libzmq 2>/dev/null || need+=(libzmq3-dev)
pkg-config --exists sqlite3 2>/dev/null || need+=(libsqlite3-dev)
[ -f /usr/include/mimalloc.h ] || [ -f /usr/local/include/mimalloc.h ] || need+=(libmimalloc-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# iproute2 (`ip`) builds the hosts of the network-namespace test, which runs as root only.
if [ "$(id -u)" -eq 0 ] && ! command -v ip >/dev/null 2>&1; then need+=(iproute2); fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "baton: missing ${need[*]} and no apt-get here; install them with your package manager" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "baton: missing ${need[*]}; run as root or install them: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
echo "baton: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
