#!/usr/bin/env bash
# Runs one study as a SLURM job array of N shards plus a merge job, e.g.
#
#   scripts/slurm/sweep.sh --shards 4 --out results/sweep --wait -- convergence --config examples/studies/mild-3d.json --seeds 5
#
# Options (before the --):
#   --shards N        array tasks 0..N-1; task I runs `adjointdeis SUBCOMMAND ... --shard I/N --out DIR`
#   --out DIR         where the shards (DIR/shards/I-of-N/), the logs (DIR/logs/) and the merged results go; the merged
#                     files land in DIR exactly where `adjointdeis SUBCOMMAND ... --out DIR` would put them
#   --partition P     sbatch --partition (default: the cluster's default partition)
#   --time T          sbatch --time for each task, e.g. 00:30:00 (default: the partition's limit)
#   --cpus C          sbatch --cpus-per-task (default 1; OPENBLAS_NUM_THREADS follows it)
#   --mem M           sbatch --mem for each task, e.g. 2G (default: the partition's)
#   --binary PATH     use this adjointdeis binary instead of building the release one
#   --sbatch-arg ARG  one more argument for every sbatch call (repeatable), e.g. --sbatch-arg=--account=proj42
#   --wait            return when the merge has finished; exit non-zero if any task or the merge failed
# Everything after -- is the subcommand and its options (no --out or --shard: the script adds them).
#
# Nothing is built at run time on the nodes: the binary (release build, made once here unless --binary) is copied to
# DIR/slurm/adjointdeis, so rebuilding during the sweep changes nothing and every shard records the same code
# version. DIR must be on a file system the nodes share (not node-local /tmp on a real cluster).
#
# Written into DIR: slurm/task.sh and slurm/merge.sh (the batch scripts), slurm/submit.txt (the exact sbatch lines,
# for resubmitting), logs/task-I.out|.err and logs/merge.out (SLURM's output per task), logs/task-I.status and
# logs/merge.status (the exit code, written when the step ends).
#
# A failed task I: fix the cause, then resubmit it alone and rerun the merge (the other shards are kept):
#   sbatch --array=I <the array line in DIR/slurm/submit.txt without its --array>   # or: sbatch --array=I DIR/slurm/task.sh
#   sbatch DIR/slurm/merge.sh                                                        # or: adjointdeis merge DIR
set -euo pipefail

die() { echo "error: sweep: $*" >&2; exit 2; }
# The value of option $1, which must be given (an option with nothing after it, or another option after it, is an
# error: `shift 2` past the end would end the script silently under set -e).
need() { [[ $# -ge 2 && -n $2 && $2 != --* ]] || die "$1: needs a value"; }
# A decimal integer 1..max without leading zeros' octal meaning: bash reads 010 as 8 in arithmetic, and the tasks
# would run --shard I/010 of a different count; at most 6 digits, so the arithmetic cannot overflow.
decimal() { [[ $2 =~ ^[0-9]{1,6}$ ]] && (( 10#$2 >= 1 && 10#$2 <= $3 )) || die "$1: expected an integer 1..$3, got '$2'"; echo $((10#$2)); }

shards="" out="" partition="" time_limit="" cpus=1 mem="" binary=${ADJOINTDEIS_BIN:-} wait=0 extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --shards) need "$1" "${2:-}"; shards=$2; shift 2 ;;
    --shards=*) shards=${1#*=}; shift ;;
    --out) need "$1" "${2:-}"; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --partition) need "$1" "${2:-}"; partition=$2; shift 2 ;;
    --partition=*) partition=${1#*=}; shift ;;
    --time) need "$1" "${2:-}"; time_limit=$2; shift 2 ;;
    --time=*) time_limit=${1#*=}; shift ;;
    --cpus) need "$1" "${2:-}"; cpus=$2; shift 2 ;;
    --cpus=*) cpus=${1#*=}; shift ;;
    --mem) need "$1" "${2:-}"; mem=$2; shift 2 ;;
    --mem=*) mem=${1#*=}; shift ;;
    --binary) need "$1" "${2:-}"; binary=$2; shift 2 ;;
    --binary=*) binary=${1#*=}; shift ;;
    --sbatch-arg) [[ $# -ge 2 ]] || die "--sbatch-arg: needs a value"; extra+=("$2"); shift 2 ;;
    --sbatch-arg=*) extra+=("${1#*=}"); shift ;;
    --wait) wait=1; shift ;;
    --) shift; break ;;
    *) die "unknown option '$1' (the subcommand goes after --)" ;;
  esac
done
[[ $# -ge 1 ]] || die "no subcommand after -- (e.g. -- convergence --config C)"
shards=$(decimal shards "$shards" 10000) || exit 2
[[ -n $out ]] || die "out: the output folder is required"
cpus=$(decimal cpus "$cpus" 1024) || exit 2
subcommand=$1; shift
case $subcommand in
  convergence|network-study|morph) ;;
  *) die "subcommand: '$subcommand' cannot be sharded (convergence, network-study, morph)" ;;
esac
for a in "$@"; do
  case $a in --out|--out=*|--shard|--shard=*) die "$a: the script sets --out and --shard itself" ;; esac
done
for tool in sbatch squeue scancel; do command -v $tool >/dev/null || die "$tool not found: is SLURM installed (and SLURM_CONF set)?"; done

repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -z $binary ]]; then
  echo "sweep: building the release binary once (swift build -c release)" >&2
  (cd "$repo" && swift build -c release --product adjointdeis >&2) || die "the release build failed"
  binary=$(cd "$repo" && swift build -c release --show-bin-path)/adjointdeis
fi
[[ -x $binary ]] || die "binary: '$binary' is not an executable"

mkdir -p "$out/logs" "$out/slurm" || die "out: cannot create $out"
out=$(cd "$out" && pwd)
workdir=$(pwd)
# A private copy: rebuilding the tree during the sweep cannot change the code the tasks run.
cp "$binary" "$out/slurm/.adjointdeis.tmp.$$" && mv -f "$out/slurm/.adjointdeis.tmp.$$" "$out/slurm/adjointdeis"
rm -f "$out"/logs/task-*.status "$out/logs/merge.status"

command_line=$(printf '%q ' "$subcommand" "$@")
cat > "$out/slurm/task.sh" <<EOF
#!/usr/bin/env bash
# One shard of: adjointdeis $command_line
# Written by scripts/slurm/sweep.sh. Resubmit shard K alone with: sbatch --array=K $out/slurm/task.sh
# (add the --partition/--time/... of $out/slurm/submit.txt).
#SBATCH --job-name=adjointdeis-$subcommand
#SBATCH --output=$out/logs/task-%a.out
#SBATCH --error=$out/logs/task-%a.err
set -uo pipefail
i=\${SLURM_ARRAY_TASK_ID:?run this as a job array task (sbatch --array=...)}
export OPENBLAS_NUM_THREADS=\${SLURM_CPUS_PER_TASK:-$cpus}
cd $(printf '%q' "$workdir") || exit 1
echo "shard \$i/$shards on \$(hostname) (job \${SLURM_ARRAY_JOB_ID:-?}_\$i), started \$(date -u +%FT%TZ)"
$(printf '%q' "$out/slurm/adjointdeis") $command_line --shard "\$i/$shards" --out $(printf '%q' "$out")
rc=\$?
echo "shard \$i/$shards: exit \$rc at \$(date -u +%FT%TZ)"
echo \$rc > $(printf '%q' "$out/logs")/.task-\$i.status.\$\$ && mv -f $(printf '%q' "$out/logs")/.task-\$i.status.\$\$ $(printf '%q' "$out/logs")/task-\$i.status
exit \$rc
EOF
cat > "$out/slurm/merge.sh" <<EOF
#!/usr/bin/env bash
# Merges the $shards shards in $out (adjointdeis merge). Written by scripts/slurm/sweep.sh; rerun with
# sbatch $out/slurm/merge.sh after resubmitting a failed shard.
#SBATCH --job-name=adjointdeis-merge
#SBATCH --output=$out/logs/merge.out
#SBATCH --error=$out/logs/merge.out
set -uo pipefail
cd $(printf '%q' "$workdir") || exit 1
$(printf '%q' "$out/slurm/adjointdeis") merge $(printf '%q' "$out")
rc=\$?
echo \$rc > $(printf '%q' "$out/logs")/.merge.status.\$\$ && mv -f $(printf '%q' "$out/logs")/.merge.status.\$\$ $(printf '%q' "$out/logs")/merge.status
exit \$rc
EOF
chmod +x "$out/slurm/task.sh" "$out/slurm/merge.sh"

common=()
[[ -n $partition ]] && common+=(--partition="$partition")
common+=("${extra[@]}")
task_args=("${common[@]}" --cpus-per-task="$cpus")
[[ -n $time_limit ]] && task_args+=(--time="$time_limit")
[[ -n $mem ]] && task_args+=(--mem="$mem")

array_job=$(sbatch --parsable --array=0-$((shards - 1)) "${task_args[@]}" "$out/slurm/task.sh") || die "sbatch of the job array failed"
array_job=${array_job%%;*}
merge_job=$(sbatch --parsable --dependency=afterok:"$array_job" --kill-on-invalid-dep=yes "${common[@]}" "$out/slurm/merge.sh") \
  || { scancel "$array_job" || true; die "sbatch of the merge job failed (the array job $array_job was cancelled)"; }
merge_job=${merge_job%%;*}
{
  echo "# $(date -u +%FT%TZ): adjointdeis $command_line, $shards shards"
  echo "sbatch --array=0-$((shards - 1)) $(printf '%q ' "${task_args[@]}")$out/slurm/task.sh   # job $array_job"
  echo "sbatch --dependency=afterok:$array_job --kill-on-invalid-dep=yes $(printf '%q ' "${common[@]}")$out/slurm/merge.sh   # job $merge_job"
} >> "$out/slurm/submit.txt"
echo "sweep: job array $array_job (shards 0-$((shards - 1))), merge job $merge_job; logs in $out/logs/"
[[ $wait -eq 1 ]] || exit 0

# --wait: poll the status files the batch scripts write (no accounting database needed) and the queue.
failed_tasks() {
  local i bad=()
  for ((i = 0; i < shards; i++)); do
    [[ -f $out/logs/task-$i.status ]] && [[ $(cat "$out/logs/task-$i.status") != 0 ]] && bad+=("$i")
  done
  echo "${bad[*]}"
}
gone_since=""
while true; do
  if [[ -f $out/logs/merge.status ]]; then
    rc=$(cat "$out/logs/merge.status")
    if [[ $rc == 0 ]]; then echo "sweep: merged into $out"; exit 0; fi
    echo "error: sweep: the merge failed (exit $rc); see $out/logs/merge.out" >&2; tail -n 5 "$out/logs/merge.out" >&2 || true; exit 1
  fi
  bad=$(failed_tasks)
  queued=$(squeue -h -j "$array_job,$merge_job" 2>/dev/null || true)
  if [[ -n $bad && -n $(grep -E "^ *${array_job}_" <<< "$(squeue -h -o '%i' -j "$array_job" 2>/dev/null || true)") ]]; then
    [[ -n ${announced:-} ]] || echo "sweep: shard(s) $bad failed; waiting for the other shards before reporting" >&2
    announced=1
  elif [[ -n $bad ]]; then
    scancel "$merge_job" 2>/dev/null || true
    for i in $bad; do
      echo "error: sweep: shard $i/$shards failed (exit $(cat "$out/logs/task-$i.status")); see $out/logs/task-$i.err" >&2
      tail -n 3 "$out/logs/task-$i.err" >&2 || true
    done
    echo "sweep: resubmit with: sbatch --array=${bad// /,} $(printf '%q ' "${task_args[@]}")$out/slurm/task.sh; then sbatch $out/slurm/merge.sh" >&2
    exit 1
  fi
  if [[ -z $queued ]]; then
    # Nothing queued or running and no merge status: give the status files a moment (shared file systems), then
    # report the tasks that ended without writing one (time limit, cancelled, node failure).
    gone_since=${gone_since:-$SECONDS}
    if (( SECONDS - gone_since > 15 )); then
      missing=()
      for ((i = 0; i < shards; i++)); do [[ -f $out/logs/task-$i.status ]] || missing+=("$i"); done
      echo "error: sweep: the jobs left the queue without finishing; shards with no exit status: ${missing[*]:-none} (time limit, scancel or node failure?); see $out/logs/" >&2
      exit 1
    fi
  fi
  sleep 1
done
