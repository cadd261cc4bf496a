#!/usr/bin/env bash
# The long fuzz run of the release CLI (issue 14): thousands of generated bad inputs and option sets, safetensors
# corruptions, byte flips and faults (kills mid-write, stdout on /dev/full, a full 1 MB tmpfs where mounting is
# allowed), each under `timeout`. Prints per family: tried / clean error / unclear error / accepted / crash / hang /
# wrong result / leftover files / data loss, then examples of every bad outcome. Exits 1 if any crash, hang, wrong
# result, leftover or data loss was seen. The fast, seeded versions of these properties run in `swift test`
# (*FuzzTests). Issue 19's families (scripts/fuzz/issue19.py): multifile (kills during every multi-file write: the
# folder must end all-old or all-new), streams (closed/full stdout, stderr, stdin), fifos (a FIFO for every input),
# png (oversized or invalid declared images), unetnull (null and absent UNet config fields against diffusers),
# scripts (sweep.sh's arguments against stub sbatch).
#
#   scripts/fuzz.sh [--cases N] [--faults N] [--kills N] [--families a,b,...] [--seed S] [--timeout SEC] [--no-mount]
#                   [--bin PATH] [--verbose]
#
# Accepted runs are kept small by ADJOINTDEIS_MEMORY_BYTES (default 2 GB here): the CLI's budget refuses plans above it.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) [ $# -ge 2 ] && [ -n "$2" ] || { echo "error: --bin: needs a value" >&2; exit 2; }; bin="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$bin" ]; then
  swift build -c release >/dev/null || { echo "error: swift build -c release failed" >&2; exit 2; }
  bin="$(swift build -c release --show-bin-path)/adjointdeis"
fi
[ -x "$bin" ] || { echo "error: --bin: $bin is not an executable" >&2; exit 2; }
command -v timeout >/dev/null || { echo "error: timeout (coreutils) is required" >&2; exit 2; }
exec python3 scripts/fuzz/fuzz.py --bin "$bin" "${args[@]}"
