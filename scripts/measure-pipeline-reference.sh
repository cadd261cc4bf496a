#!/usr/bin/env bash
# What a continuous reference gradient costs on a pipeline, and a cheaper one: `gradient --pipeline --solver rk45`
# (black-box adjoint, pipeline default rtol = atol = 1e-5) against fixed-step fourth-order gradients at N and 2N
# (AdjointDPM-RK4 on re-solved states, float32 like rk45; Rex-RK4 in float64, since with a float32 network its inverse
# misses x_T by 1.1e-6 > its 1e-6 check; the N-vs-N/2 difference is the Richardson error estimate), on the `small`
# layout (3 x 16 x 16, random weights, DDPMScheduler linear betas), batch 1, release build. Prints a markdown table
# (wall time, network calls, relative error against rk45) and the machine's load. REUSE_RK45=PREFIX takes rk45's
# PREFIX.json and PREFIX.safetensors from an earlier run of the same command instead of rerunning it (9 minutes here).
#   swift build -c release && scripts/measure-pipeline-reference.sh [BINARY] [PIPELINE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-.build/release/adjointdeis}
P=${2:-/tmp/adjointdeis-small-pipeline}
[ -d "$P" ] || "$B" make-pipeline --layout small --seed 0 --out "$P" --example-images > /dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
run() {  # name, then gradient options; writes $T/<name>.json and .safetensors
  local name=$1; shift
  "$B" gradient --pipeline "$P" --seed 0 --target "$P/target.png" --pipeline-sampler continuous --output "$T/$name.safetensors" "$@" > "$T/$name.json" 2> "$T/$name.err"
}
echo "load before: $(uptime | sed 's/.*load average/load average/')"
if [ -n "${REUSE_RK45:-}" ]; then cp "$REUSE_RK45.json" "$T/rk45.json"; cp "$REUSE_RK45.safetensors" "$T/rk45.safetensors"; else run rk45 --solver rk45; fi
for n in 10 20 40 80; do
  run adjointdpm-rk4-$n --solver adjointdpm-rk4/resolved --sampler-steps $n
done
for n in 20 40; do
  run rex-rk4-f64-$n --solver rex-rk4 --sampler-steps $n --grid lambda --dtype float64
done
run adjointdeis-2m-80 --solver adjointdeis-2m --sampler-steps 80
echo "load after: $(uptime | sed 's/.*load average/load average/')"
python3 - "$T" <<'PY'
import json, struct, sys, math, os
T = sys.argv[1]
def grad(name):
    b = open(f"{T}/{name}.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); e = h["grad_x_T"]
    lo, hi = e["data_offsets"]; return struct.unpack(f"<{(hi - lo) // 8}d", b[8 + n + lo:8 + n + hi])
def rel(a, b): return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))) / math.sqrt(sum(y * y for y in b))
ref = grad("rk45")
names = ["rk45"] + [f"adjointdpm-rk4-{n}" for n in (10, 20, 40, 80)] + [f"rex-rk4-f64-{n}" for n in (20, 40)] + ["adjointdeis-2m-80"]
print("| method | wall time (s) | forward eps | VJPs | rel. error vs rk45 | rel. change from N/2 (Richardson) |")
print("| --- | --- | --- | --- | --- | --- |")
for name in names:
    r = json.load(open(f"{T}/{name}.json"))
    prev = {"rex-rk4-f64-40": "rex-rk4-f64-20", "adjointdpm-rk4-20": "adjointdpm-rk4-10", "adjointdpm-rk4-40": "adjointdpm-rk4-20",
            "adjointdpm-rk4-80": "adjointdpm-rk4-40"}.get(name)
    change = f"{rel(grad(prev), grad(name)):.2e}" if prev else ""
    print(f"| {name} | {r['wall_time_s']:.1f} | {r['nfe']['eps']} | {r['nfe']['vjp']} | {rel(grad(name), ref):.2e} | {change} |")
# AdjointDPM-RK4's error halves with N (first order, the schedule's kinks): one Richardson step, 2 g(2N) - g(N)
for n in (20, 40):
    a, b = grad(f"adjointdpm-rk4-{n}"), grad(f"adjointdpm-rk4-{2 * n}")
    wall = sum(json.load(open(f"{T}/adjointdpm-rk4-{k}.json"))["wall_time_s"] for k in (n, 2 * n))
    print(f"| 2 g({2 * n}) - g({n}), adjointdpm-rk4 | {wall:.1f} | {3 * n} | {12 * n} | {rel([2 * y - x for x, y in zip(a, b)], ref):.2e} |  |")
PY
