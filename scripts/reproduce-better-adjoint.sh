#!/usr/bin/env bash
# Regenerates results/better-adjoint/ (docs/gaussian-linear-part.md): the adjoint with a Gaussian linear part
# (k = 1, 2M, 3M; full and isotropic Sigma), DTO through the matching sampler, and AdjointDPM (Euler, midpoint, RK4),
# next to the paper's solvers and DTO, on the convergence studies' configs; then error against VJP count (tables and
# plots) from the CSVs. Called by scripts/reproduce-convergence.sh; runs alone after a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
out=results/better-adjoint
# (network/ belongs to scripts/reproduce-network.sh and is kept)
mkdir -p "$out"
find "$out" -maxdepth 1 -type f -delete
rm -rf "$out/time-uniform"
start=$(date +%s)

steps=5,10,20,40,80,160,320,640,1280,2560,5120
solvers=adjointdeis-1/exact,adjointdeis-2m/exact,dto/dpm-solver-1,dto/dpm-solver-2m
solvers=$solvers,adjointdeis-gl-1/exact,adjointdeis-gl-2m/exact,adjointdeis-gl-3m/exact
solvers=$solvers,adjointdeis-gl-1/exact/isotropic,adjointdeis-gl-2m/exact/isotropic
solvers=$solvers,adjointdeis-gl-1/recorded,adjointdeis-gl-2m/recorded,dto-gl,dto-gl/dpm-solver-2m
solvers=$solvers,adjointdpm-euler/exact,adjointdpm-midpoint/exact,adjointdpm-rk4/exact,adjointdpm-rk4/resolved
"$bin" convergence --config examples/studies/mild-3d.json --name diagonal-gl --solvers $solvers --steps $steps --seeds 5 --out "$out"
"$bin" convergence --config examples/studies/mild-full-cov.json --name full-cov-gl --solvers $solvers --steps $steps --seeds 5 --out "$out"
"$bin" convergence --config examples/mixture-3d.json --name separated-gl --solvers $solvers \
  --steps 5,10,20,40,80,160,320,640,1280,2560 --out "$out"
# The other two study configs: the mild model on t in [1e-3, 0.5], and d = 256 with K = 10 well-spread components.
"$bin" convergence --config examples/studies/floor-3d.json --name floor-gl --solvers $solvers --steps $steps --out "$out"
"$bin" convergence --config examples/studies/mixture-256d.json --name mixture-256d-gl --solvers $solvers \
  --steps 5,10,20,40,80,160,320,640,1280 --out "$out"
# The SDE: the adjoint along the recorded SDE path (the linear part doubles); one fine Brownian path per path index.
"$bin" convergence --config examples/studies/mild-3d.json --name diagonal-gl-sde --kind sde \
  --solvers adjointdeis-1/recorded,adjointdeis-2m/recorded,adjointdeis-gl-1/recorded,adjointdeis-gl-2m/recorded,dto/sde \
  --steps 20,40,80,160,320,640,1280,2560 --fine-factor 16 --paths 8 --out "$out"
"$bin" cost-accuracy --csv "$out/diagonal-gl.csv,$out/full-cov-gl.csv,$out/separated-gl.csv,$out/floor-gl.csv,$out/mixture-256d-gl.csv,$out/diagonal-gl-sde.csv" \
  --steps 20,80,320 --out "$out"

# The same on grids uniform in t (the paper's spacing): the paper's setting is adjointdeis-1/recorded at M = 20
# (DDIM with N = 20, AdjointDEIS-1 on its recorded states), and the grid is one of the stretch-goal experiments.
time=$out/time-uniform
mkdir -p "$time"
tsolvers=adjointdeis-1/exact,adjointdeis-2m/exact,adjointdeis-1/recorded,adjointdeis-2m/recorded,dto/dpm-solver-1
tsolvers=$tsolvers,adjointdeis-gl-1/exact,adjointdeis-gl-2m/exact,adjointdeis-gl-3m/exact
tsolvers=$tsolvers,adjointdeis-gl-1/recorded,adjointdeis-gl-2m/recorded,dto-gl,dto-gl/dpm-solver-2m
tsolvers=$tsolvers,adjointdpm-euler/resolved,adjointdpm-rk4/resolved,adjointdpm-rk4/exact
for study in diagonal:examples/studies/mild-3d.json full-cov:examples/studies/mild-full-cov.json separated:examples/mixture-3d.json; do
  "$bin" convergence --config "${study#*:}" --name "${study%%:*}-gl-time" --grid time-uniform --solvers $tsolvers \
    --steps 5,10,20,40,80,160,320,640 --out "$time"
done
"$bin" cost-accuracy --csv "$time/diagonal-gl-time.csv,$time/full-cov-gl-time.csv,$time/separated-gl-time.csv" \
  --steps 20,80 --out "$time"

scripts/render-svg.sh "$out"
scripts/render-svg.sh "$time"
echo "results/better-adjoint regenerated in $(( $(date +%s) - start )) s"
