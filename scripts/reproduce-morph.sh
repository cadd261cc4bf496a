#!/usr/bin/env bash
# Regenerates results/morph/: trains the three CNN recognizers on the image mixture, then runs the guided-morphing
# experiment of examples/morph/morph.json (analytic mixture, conditioned mixture, trained UNet of results/network/model).
# Extra arguments go to `adjointdeis morph` (e.g. --pairs 10 --unet-pairs 2 --steps 5 --out /tmp/morph for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
start=$(date +%s)

# Three recognizers of different widths and seeds (about 10-20 s each); r0 drives the loss, r1 and r2 only judge.
for spec in "r0-w8 8 1" "r1-w12 12 2" "r2-w16 16 3"; do
  read -r name width seed <<< "$spec"
  "$bin" recognizer --data examples/network/image-mixture.json --width "$width" --seed "$seed" --steps 800 --batch 64 \
    --out "results/morph/recognizers/$name" --threads 1
done

# --out results/morph unless the caller gives its own.
out=(--out results/morph)
for arg in "$@"; do [ "$arg" = "--out" ] && out=(); done
"$bin" morph --config examples/morph/morph.json "${out[@]}" --threads 2 "$@"
echo "reproduce-morph: $(( $(date +%s) - start )) s"
