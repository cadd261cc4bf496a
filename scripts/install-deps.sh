#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing: libopenblas-dev, liblapacke-dev and
# zlib1g-dev always, and with --plots also librsvg2-bin and fonts-dejavu-core (to render the SVG plots to PNG).
# Sourced or run by the reproduction scripts; exits non-zero, naming the packages, when it cannot install them (not root, no apt-get).
set -euo pipefail
need=()
[ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ] || need+=(libopenblas-dev)
[ -f /usr/include/lapacke.h ] || need+=(liblapacke-dev)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ "${1:-}" = "--plots" ]; then
  command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
  [ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
  else
    echo "missing: ${need[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi
