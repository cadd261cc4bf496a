#!/usr/bin/env bash
# Regenerates results/beyond-vp/ (docs/math.md#beyond-vp): the same diagonal mixture (examples/studies/mild-3d*.json) on
# vp-linear, flow matching (T = 0.99, and T = 1: pure noise) and EDM (sigma in [0.002, 80]).
#  1. Theorem 1: AdjointDEIS-1/2M on exact and recorded states, eps and data form, grids uniform in lambda, 3 seeds;
#     flow matching from T = 1 on the time-uniform grid (h_max infinite there: fitted against 1/M).
#  2. Every method against the exact gradient, N = 5 ... 320, on grids uniform in lambda and on each schedule's
#     natural grid (time-uniform to T = 1 for flow matching, Karras rho = 7 for EDM); `which-gradient` tables.
# Called by scripts/reproduce-convergence.sh after its release build; about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
out=results/beyond-vp
rm -rf "$out"
mkdir -p "$out/methods"
start=$(date +%s)
s=examples/studies

theorem=adjointdeis-1/exact,adjointdeis-2m/exact,adjointdeis-2m-phi2/exact,adjointdeis-1/recorded,adjointdeis-2m/recorded
theorem=$theorem,adjointdeis-1/exact/data,adjointdeis-2m/exact/data,adjointdeis-1/recorded/data,adjointdeis-2m/recorded/data
steps=5,10,20,40,80,160,320,640,1280,2560,5120
"$bin" convergence --config $s/mild-3d.json --name vp-ode --solvers $theorem --steps $steps --seeds 3 --out "$out"
"$bin" convergence --config $s/mild-3d-fm.json --name fm-ode --solvers $theorem --steps $steps --seeds 3 --out "$out"
"$bin" convergence --config $s/mild-3d-edm.json --name edm-ode --solvers $theorem --steps $steps --seeds 3 --out "$out"
"$bin" convergence --config $s/mild-3d-fm-t1.json --name fm-t1-ode --grid time-uniform --solvers $theorem --steps $steps --seeds 3 --out "$out"

# Every method. From T = 1 the reversible samplers, AdjointDPM and the Gaussian-linear methods refuse to run
# (docs/math.md#noise-end), so that study leaves them out.
common=dto/dpm-solver-1,dto/dpm-solver-2m,adjointdeis-1/recorded,adjointdeis-2m/recorded,adjointdeis-3m/recorded
common=$common,adjointdeis-1/resolved,adjointdeis-2m/resolved,adjointdeis-1/exact,adjointdeis-2m/exact
common=$common,adjointdeis-1/recorded/data,adjointdeis-2m/recorded/data,adjointdeis-1/exact/data,adjointdeis-2m/exact/data
reversible=rex-euler,rex-midpoint,rex-rk4,reversible-heun,bdia,edict,adjointdpm-rk4/recorded,adjointdpm-rk4/resolved
reversible=$reversible,adjointdeis-gl-2m/recorded,dto-gl/dpm-solver-2m
m="$out/methods"
steps=5,10,20,40,80,160,320
"$bin" convergence --config $s/mild-3d.json --name vp-lambda --solvers $common,$reversible --steps $steps --discrete-reference --out "$m"
"$bin" convergence --config $s/mild-3d-fm.json --name fm-lambda --solvers $common,$reversible --steps $steps --discrete-reference --out "$m"
"$bin" convergence --config $s/mild-3d-edm.json --name edm-lambda --solvers $common,$reversible --steps $steps --discrete-reference --out "$m"
"$bin" convergence --config $s/mild-3d-fm-t1.json --name fm-t1-uniform --grid time-uniform --solvers $common --steps $steps --discrete-reference --out "$m"
"$bin" convergence --config $s/mild-3d-edm.json --name edm-karras --grid karras --solvers $common,$reversible --steps $steps --discrete-reference --out "$m"
csvs=$(printf "$m/%s.csv," vp-lambda fm-lambda edm-lambda fm-t1-uniform edm-karras)
"$bin" which-gradient --csv "${csvs%,}" --steps 20,80 --budget 500 --target 0.01 --out "$m"
scripts/render-svg.sh "$out"
scripts/render-svg.sh "$m"
echo "results/beyond-vp regenerated in $(( $(date +%s) - start )) s"
