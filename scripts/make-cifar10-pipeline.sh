#!/usr/bin/env bash
# Makes a google/ddpm-cifar10-32-layout pipeline folder with random weights (35.7M parameters, 143 MB; not committed,
# nothing can be downloaded here) plus target.png and mask.png for the README's worked example. No Python needed:
# the folder is written by `adjointdeis make-pipeline` (diffusers' DDPMPipeline.from_pretrained loads it).
#   scripts/make-cifar10-pipeline.sh [DIR]      (default /tmp/cifar10-pipeline)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp/cifar10-pipeline}"
scripts/install-deps.sh
swift build -c release --product adjointdeis
bin="$(swift build -c release --show-bin-path)/adjointdeis"
"$bin" make-pipeline --layout cifar10 --seed 0 --out "$dir" --example-images
