#!/usr/bin/env bash
# Regenerates results/network/: the toy-versus-network convergence comparison.
# Reuses the committed weights in results/network/model/ unless they are missing or --train is given; training
# (denoising score matching, float32, 1 BLAS thread) takes ~25 minutes on a quiet 2-core machine.
# Needs what scripts/reproduce-convergence.sh needs (OpenBLAS/LAPACKE headers; rsvg-convert and DejaVu fonts for PNGs).
#
# Usage: scripts/reproduce-network.sh [--train]
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
out=results/network
model=$out/model
data=examples/network/image-mixture.json
start=$(date +%s)

if [[ "${1:-}" == "--train" || ! -f $model/diffusion_pytorch_model.safetensors ]]; then
  rm -rf "$model.new"
  # The committed run: 1400 Adam steps of batch 32, lr 1.5e-3 after 100 warmup steps, seed 0. The data stream is
  # seeded per step, so the same steps reproduce the same weights (single-threaded BLAS).
  "$bin" train --data $data --model-config examples/network/unet-small.json --steps 1400 --batch 32 --lr 1.5e-3 \
    --warmup 100 --checkpoint-every 200 --seed 0 --threads 1 --out "$model.new"
  rm -rf "$model" && mv "$model.new" "$model"
fi

# Both models, same x_T (seed 0), same loss (0.5 |x_0 - mu_0|^2), same solvers and M. RK45 references at 1e-7:
# 1e-10 is out of reach on the network (its eps wiggles in t at up to 160 cycles per unit t, see README.md), at
# 1e-6 its reference already needs ~10x the analytic model's evaluations.
"$bin" network-study --data $data --model $model --out $out --name network --steps 5,10,20,40,80,160,320,640 \
  --reference-tolerance 1e-7 --floor 1e-9 --threads 1
# The same network evaluated in float32 (AdjointDEIS-1/-2M on exact states; RK45 at 1e-6): network-float32-*.
"$bin" network-study --data $data --model $model --out $out --name network-float32 --dtype float32 \
  --solvers adjointdeis-1/exact,adjointdeis-2m/exact --steps 5,10,20,40,80,160,320,640 \
  --reference-tolerance 1e-6 --floor 1e-9 --eps-samples 16 --threads 1
# The adjoint with a Gaussian linear part on both models (docs/gaussian-linear-part.md): the mixture's mean and
# covariance are handed to the network's methods too (--data-statistics); into results/better-adjoint/network.
"$bin" network-study --data $data --model $model --out results/better-adjoint/network --name network-gl \
  --steps 5,10,20,40,80,160,320,640 --reference-tolerance 1e-7 --floor 1e-9 --threads 1 --data-statistics \
  --solvers adjointdeis-1/recorded,adjointdeis-2m/recorded,adjointdeis-gl-1/recorded,adjointdeis-gl-2m/recorded,adjointdeis-gl-1/recorded/isotropic,adjointdeis-gl-2m/recorded/isotropic
"$bin" cost-accuracy --csv results/better-adjoint/network/network-gl.csv --steps 20,80 --out results/better-adjoint/network
# The reference gradients of both models over 8 x_T seeds (RK45 at 1e-5): network-distance.md.
"$bin" network-study --data $data --model $model --out $out --name network --distance-seeds 8 \
  --reference-tolerance 1e-5 --threads 1

scripts/render-svg.sh "$out"
scripts/render-svg.sh results/better-adjoint/network
echo "results/network regenerated in $(( $(date +%s) - start )) s"
