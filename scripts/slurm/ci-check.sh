#!/usr/bin/env bash
# The SLURM test CI runs after `swift test` (.ci/run): installs slurm-wlm and munge if missing, starts the one-node
# cluster (scripts/slurm/local-cluster.sh), checks that a 4-task echo array runs, runs a small convergence study
# unsharded and through scripts/slurm/sweep.sh with 4 shards, and checks merged == unsharded (except wall times).
# The cluster is stopped on every exit, also when a step fails. Every step is bounded with timeout.
#
#   scripts/slurm/ci-check.sh [BINARY]   # BINARY: adjointdeis to use (default: the debug build, built if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
step() { echo "slurm-ci: [$((SECONDS - started)) s] $*"; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || { echo "error: slurm-ci: slurm-wlm and munge are missing and there is no apt-get" >&2; exit 1; }
  step "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null \
    || { timeout 300 apt-get update >/dev/null && timeout 600 apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null; }
fi

bin=${1:-}
if [[ -z $bin ]]; then
  timeout 1200 swift build --product adjointdeis >/dev/null
  bin=$(swift build --show-bin-path)/adjointdeis
fi
[[ -x $bin ]] || { echo "error: slurm-ci: $bin is not an executable" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/slurm-ci.XXXXXX")
export ADJOINTDEIS_SLURM_DIR=$work/cluster
cleanup() {
  local rc=$?
  timeout 60 scripts/slurm/local-cluster.sh stop || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

step "starting the one-node cluster"
timeout 90 scripts/slurm/local-cluster.sh start
eval "$(scripts/slurm/local-cluster.sh env)"
timeout 30 sinfo

step "a job array of 4 echo tasks"
mkdir -p "$work/echo"
t0=$SECONDS
job=$(timeout 30 sbatch --parsable --array=0-3 --output="$work/echo/%a.out" --wrap 'echo "task $SLURM_ARRAY_TASK_ID on $(hostname)"')
timeout 60 bash -c "while squeue -h -j ${job%%;*} 2>/dev/null | grep -q .; do sleep 0.5; done"
for i in 0 1 2 3; do grep -q "^task $i on " "$work/echo/$i.out" || { echo "error: slurm-ci: echo task $i wrote nothing" >&2; exit 1; }; done
step "4 echo tasks done in $((SECONDS - t0)) s"

study=(convergence --config examples/studies/mild-3d.json --seeds 4 --steps 5,10,20,40,80,160,320,640)
step "unsharded: adjointdeis ${study[*]}"
t0=$SECONDS
timeout 600 "$bin" "${study[@]}" --out "$work/unsharded" >/dev/null 2>"$work/unsharded.log" \
  || { cat "$work/unsharded.log" >&2; exit 1; }
step "unsharded run: $((SECONDS - t0)) s"

step "sharded: scripts/slurm/sweep.sh --shards 4 --wait"
t0=$SECONDS
timeout 900 scripts/slurm/sweep.sh --shards 4 --out "$work/sharded" --binary "$bin" --time 00:15:00 --wait -- "${study[@]}"
step "sharded run (4 shards + merge, through SLURM): $((SECONDS - t0)) s"
cat "$work/sharded/logs/task-0.out"

step "merged == unsharded?"
timeout 120 scripts/slurm/compare-outputs.sh "$work/unsharded" "$work/sharded"

step "a shard of other options in the folder: merge must refuse"
timeout 300 "$bin" convergence --config examples/studies/mild-3d.json --seeds 4 --steps 5,10 --shard 3/4 --out "$work/sharded" 2>/dev/null
if timeout 120 "$bin" merge "$work/sharded" >/dev/null 2>"$work/refused.log"; then
  echo "error: slurm-ci: merge accepted a shard of other options" >&2; exit 1
fi
grep -q "3-of-4 differs from 0-of-4 in options" "$work/refused.log" || { cat "$work/refused.log" >&2; exit 1; }
step "refused: $(head -c 200 "$work/refused.log")"
step "ok: the SLURM part took $((SECONDS - started)) s"
