#!/usr/bin/env bash
# Regenerates results/which-gradient/ (docs/reversible-solvers.md#which-gradient): on the toy studies (diagonal and
# full covariance, the separated mixture, a 64-dimensional and a 256-dimensional mixture), every practical gradient
# method -- the reversible samplers (O(1) memory, exact gradient of their own sampler), DTO with full storage and with
# binomial checkpointing, the continuous adjoints on recorded and re-solved states, AdjointDPM -- plus AdjointDEIS on
# exact states (the mechanism: state error versus adjoint discretization), against the exact continuous gradient and
# the exact gradient of each method's own sampler; then `adjointdeis which-gradient` (tables, decision table, plots).
# Called by scripts/reproduce-convergence.sh; runs alone after a release build. With --network it also runs the
# trained UNet's study (results/network/model against its analytic mixture, 4 minutes) into results/which-gradient/network/.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
out=results/which-gradient
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)

solvers=rex-euler,rex-midpoint,rex-rk4,rex-rk4/noise,reversible-heun,bdia,edict
solvers=$solvers,dto/dpm-solver-1,dto/dpm-solver-2m,dto/dpm-solver-2m/checkpoint=binomial:3,dto-gl/dpm-solver-2m
solvers=$solvers,adjointdeis-1/recorded,adjointdeis-2m/recorded,adjointdeis-1/resolved,adjointdeis-2m/resolved
solvers=$solvers,adjointdeis-1/exact,adjointdeis-2m/exact,adjointdeis-gl-2m/recorded,adjointdpm-rk4/recorded,adjointdpm-rk4/resolved
steps=5,10,20,40,80,160,320
"$bin" convergence --config examples/studies/mild-3d.json --name diagonal --solvers $solvers --steps $steps --discrete-reference --out "$out"
"$bin" convergence --config examples/studies/mild-full-cov.json --name full-cov --solvers $solvers --steps $steps --discrete-reference --out "$out"
"$bin" convergence --config examples/mixture-3d.json --name separated --solvers $solvers --steps $steps --discrete-reference --out "$out"
"$bin" convergence --config examples/studies/mixture-64d.json --name mixture-64d --solvers $solvers --steps $steps --discrete-reference --out "$out"
"$bin" convergence --config examples/studies/mixture-256d.json --name mixture-256d --solvers $solvers --steps 5,10,20,40,80,160 --discrete-reference --out "$out"
csvs=$(printf "$out/%s.csv," diagonal full-cov separated mixture-64d mixture-256d)
"$bin" which-gradient --csv "${csvs%,}" --steps 10,20,80 --budget 500 --target 0.01 --out "$out"
scripts/render-svg.sh "$out"
if [[ "${1:-}" == "--network" ]]; then
  # The trained UNet beside its analytic mixture (same x_T, loss, solvers); RK45 references at 1e-7 as in
  # scripts/reproduce-network.sh (the network's eps wiggles in t, so tighter is out of reach).
  net=$out/network
  "$bin" network-study --data examples/network/image-mixture.json --model results/network/model --out "$net" --name network-which \
    --solvers rex-euler,rex-midpoint,rex-rk4,bdia,dto/dpm-solver-2m,dto/dpm-solver-2m/checkpoint=binomial:3,adjointdeis-1/recorded,adjointdeis-2m/recorded,adjointdpm-rk4/recorded \
    --steps 5,10,20,40,80 --reference-tolerance 1e-7 --floor 1e-9 --threads 1
  "$bin" which-gradient --csv "$net/network-which.csv" --steps 20,80 --budget 500 --target 0.01 --out "$net"
  scripts/render-svg.sh "$net"
fi
echo "results/which-gradient regenerated in $(( $(date +%s) - start )) s"
