#!/usr/bin/env bash
# The time of one guidance step on the google/ddpm-cifar10-32 layout (random weights, scripts/make-cifar10-pipeline.sh)
# for two builds of adjointdeis, alternating in the same run: `guide --methods dto --sampler-steps 10 --steps 2`
# (each step samples x_0 through the pipeline's DDPM loop and differentiates it exactly: 10 forwards to sample, 10
# forwards + 10 VJPs for the gradient), float32, at batch 1 and 8; the number is the guide's own seconds_per_step.
# Before each run it waits up to SETTLE seconds (default 240) for the 1-minute load to fall to 0.3 and records the
# load; a run that starts above it is marked contended. Writes a markdown table to stdout.
#   scripts/measure-guide-step.sh OLD_BIN NEW_BIN [PIPELINE_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?usage: measure-guide-step.sh OLD_BIN NEW_BIN [PIPELINE_DIR] [ROUNDS]}"
new="${2:?usage: measure-guide-step.sh OLD_BIN NEW_BIN [PIPELINE_DIR] [ROUNDS]}"
dir="${3:-/tmp/cifar10-pipeline}"
rounds="${4:-3}"
settle="${SETTLE:-240}"
for b in "$old" "$new"; do [ -x "$b" ] || { echo "error: $b: not an executable" >&2; exit 1; }; done
[ -f "$dir/model_index.json" ] || { echo "error: $dir: not a pipeline folder (run scripts/make-cifar10-pipeline.sh $dir)" >&2; exit 1; }
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] || { echo "error: ROUNDS: a count from 1 to 99, got '$rounds'" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() {
  local waited=0
  while awk -v l="$(load1)" 'BEGIN { exit !(l > 0.3) }' && [ "$waited" -lt "$settle" ]; do sleep 5; waited=$((waited + 5)); done
}
# one run: prints "seconds_per_step load_before"
run() {
  local bin="$1" batch="$2" before
  wait_quiet
  before="$(load1)"
  "$bin" guide --pipeline "$dir" --target "$dir/target.png" --seed 0 --batch "$batch" --steps 2 --sampler-steps 10 \
    --methods dto --dtype float32 --out "$tmp/out" > "$tmp/summary.json" 2> "$tmp/stderr" \
    || { echo "error: $bin guide failed: $(tail -1 "$tmp/stderr")" >&2; exit 1; }
  rm -rf "$tmp/out"
  sed -n 's/.*"seconds_per_step" *: *\([0-9.eE+-]*\).*/\1/p' "$tmp/summary.json" | head -1
  echo "$before"
}

echo "| batch | round | before (s per step) | load | after (s per step) | load | after / before |"
echo "|---|---|---|---|---|---|---|"
for batch in 1 8; do
  for r in $(seq 1 "$rounds"); do
    # odd rounds run the old build first, even rounds the new one
    if [ $((r % 2)) -eq 1 ]; then o=($(run "$old" "$batch")); n=($(run "$new" "$batch"))
    else n=($(run "$new" "$batch")); o=($(run "$old" "$batch")); fi
    awk -v b="$batch" -v r="$r" -v to="${o[0]}" -v lo="${o[1]}" -v tn="${n[0]}" -v ln="${n[1]}" 'BEGIN {
      c = (lo > 0.3 || ln > 0.3) ? " (contended)" : ""
      printf "| %d | %d%s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", b, r, c, to, lo, tn, ln, tn / to }'
  done
done
