#!/usr/bin/env bash
# results/morph-reversible/: the guided-morphing experiment of examples/morph/morph.json on the two analytic mixtures with
# the exact gradients of the discrete sampler: DTO (its rows must equal results/morph's, the same run), DTO with
# binomial checkpointing (3 slots), and the O(1)-memory reversible samplers (Rex-Euler, Rex-RK4, BDIA, reversible
# Heun), each sampling its own morph. Reuses the recognizers of results/morph/ (scripts/reproduce-morph.sh trains them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
start=$(date +%s)
"$bin" morph --config examples/morph/morph.json --models mixture,mixture-conditional \
  --methods dto,dto/checkpoint=binomial:3,rex-euler,rex-rk4,bdia,reversible-heun --out results/morph-reversible --threads 2 "$@"
echo "reproduce-morph-reversible: $(( $(date +%s) - start )) s"
