#!/usr/bin/env bash
# Renders every *.svg in a directory (not recursive) to a PNG next to it, for looking at plots.
# Needs: rsvg-convert (Debian/Ubuntu package librsvg2-bin: `apt-get install librsvg2-bin`) and a font with
# DejaVu Sans metrics (fonts-dejavu-core), which the plots' text layout assumes.
# A development/reproduction tool: the tests do not use it.
#
# Usage: scripts/render-svg.sh DIR [ZOOM]     ZOOM defaults to 2 (PNG at twice the SVG's pixel size)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "usage: $0 DIR [ZOOM]   renders DIR/*.svg to DIR/*.png (ZOOM default 2)" >&2
  exit 2
fi
dir="$1"
zoom="${2:-2}"
if [[ ! -d "$dir" ]]; then
  echo "error: $dir is not a directory" >&2
  exit 2
fi
if ! [[ "$zoom" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "error: ZOOM must be a positive number, got '$zoom'" >&2
  exit 2
fi
if ! command -v rsvg-convert >/dev/null 2>&1; then
  echo "error: rsvg-convert not found; install it with: apt-get install librsvg2-bin" >&2
  exit 1
fi
if command -v fc-list >/dev/null 2>&1 && ! fc-list | grep -qi "DejaVu Sans"; then
  echo "warning: DejaVu Sans is not installed (apt-get install fonts-dejavu-core); text widths may differ" >&2
fi

shopt -s nullglob
count=0
for svg in "$dir"/*.svg; do
  png="${svg%.svg}.png"
  rsvg-convert --zoom "$zoom" --background-color white --format png --output "$png" "$svg"
  echo "$png"
  count=$((count + 1))
done
if [[ $count -eq 0 ]]; then
  echo "warning: no .svg files in $dir" >&2
fi
