#!/usr/bin/env bash
# Regenerates results/convergence/ from scratch: installs the system libraries if missing, builds in release mode,
# runs every convergence study, and renders each SVG to PNG (rsvg-convert, from Debian's librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --plots

swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
out=results/convergence
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)

# 1. Theorem 1 on two models (diagonal covariance, vp-linear; full covariance, vp-cosine), 5 seeds each.
steps=5,10,20,40,80,160,320,640,1280,2560,5120
"$bin" convergence --config examples/studies/mild-3d.json --name diagonal-ode --steps $steps --seeds 5 --out "$out"
"$bin" convergence --config examples/studies/mild-full-cov.json --name full-cov-ode --steps $steps --seeds 5 --out "$out"

# 2. A stiffer, well-separated mixture (examples/mixture-3d.json) at the paper's scale of M.
"$bin" convergence --config examples/mixture-3d.json --name separated-ode --steps 5,10,20,40,80,160,320,640 --out "$out"

# 3. The floor: AdjointDEIS-2M reaches the reference's accuracy (~1e-12 relative, RK45 at rtol = atol = 1e-12) at
#    M ~ 5e6; T = 0.5 keeps the error constant small enough for that. Points below 1e-11 are left out of the fit.
"$bin" convergence --config examples/studies/floor-3d.json --name floor-ode \
  --solvers adjointdeis-1/exact,adjointdeis-2m/exact,adjointdeis-2m-phi2/exact \
  --steps 5,10,20,40,80,160,320,640,1280,2560,5120,10240,20480,40960,81920,163840,327680,655360,1310720,2621440,5242880 --out "$out"

# 4. The SDE: one fine Brownian path per (seed, path), coarse steps summing its increments; 16 paths, 3 seeds.
"$bin" convergence --config examples/studies/mild-3d.json --name diagonal-sde --kind sde \
  --steps 20,40,80,160,320,640,1280,2560,5120,10240 --fine-factor 16 --paths 16 --seeds 3 --out "$out"

# 5. Third order (docs/math.md#dpm-solver-3m, #adjointdeis-3m): AdjointDEIS-3M on exact states and on DPM-Solver-3M's
#    recorded states, and DTO through DPM-Solver-3M (DPM-Solver's published form, whose error against the continuous
#    gradient is the sampler's own discretization error), 5 seeds.
"$bin" convergence --config examples/studies/mild-3d.json --name diagonal-3m \
  --solvers adjointdeis-3m/exact,adjointdeis-3m/recorded,dto/dpm-solver-3m --steps $steps --seeds 5 --out "$out"

scripts/render-svg.sh "$out"
echo "results/convergence regenerated in $(( $(date +%s) - start )) s"

# 6. A better adjoint solver (docs/gaussian-linear-part.md), into results/better-adjoint/.
scripts/reproduce-better-adjoint.sh

# 7. Which gradient should you use? (docs/reversible-solvers.md#which-gradient), into results/which-gradient/.
scripts/reproduce-which-gradient.sh

# 8. Beyond variance preserving (docs/math.md#beyond-vp): flow matching and EDM, into results/beyond-vp/.
scripts/reproduce-beyond-vp.sh
