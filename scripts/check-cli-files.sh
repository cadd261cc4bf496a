#!/usr/bin/env bash
# File, output and error-reporting checks of the CLI (issue 14): every failure is one line `error: <what>: <why>` with
# a non-zero exit; bad inputs (directories, devices, FIFOs as configs; bad option values) are refused before any work;
# stdout write failures are errors; outputs write through devices and FIFOs, follow symbolic links, leave no temporary
# file on failure or SIGTERM, and appear all together or not at all. Uses a 64 KB tmpfs for the full-disk cases when
# it can mount one (root), and skips those otherwise. Prints a count; exits 1 on a breach.
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build --show-bin-path)/adjointdeis}"
[ -x "$bin" ] || { echo "build first (swift build), or pass the binary's path" >&2; exit 2; }
ok=0; bad=0
tmp=$(mktemp -d); full=""
cleanup() { umount "$tmp/ro/out" "$tmp/ro" 2>/dev/null; [ -n "$full" ] && umount "$full" 2>/dev/null; rm -rf "$tmp" "examples/morph/.check-T.$$.json"; }
trap cleanup EXIT
cfg=examples/mixture-3d.json
unet=Tests/NeuralCoreTests/Fixtures/unet-small
pass() { ok=$((ok+1)); }
fail() { echo "FAIL: $*"; [ -s "$tmp/err" ] && sed 's/^/  stderr: /' "$tmp/err" | head -5; bad=$((bad+1)); }

# must_error PATTERN ARGS...: exits non-zero within 20 s, stderr is exactly one line starting "error: " and matching
# PATTERN (after any progress lines), nothing on stdout, and no Foundation error dump.
must_error() {
  local pattern="$1"; shift
  timeout 20 "$bin" "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "exit $rc (want an error): $*"; return; fi
  # progress lines of long runs may come first; the last line is the error, the only one that mentions an error
  if [ "$(grep -ci "error" "$tmp/err")" -ne 1 ] || ! tail -n 1 "$tmp/err" | grep -q "^error: "; then fail "not one 'error:' line: $*"; return; fi
  if grep -q "NSCocoaErrorDomain\|CommandError\|Missing value" "$tmp/err"; then fail "unclear error: $*"; return; fi
  if ! grep -qE -- "$pattern" "$tmp/err"; then fail "error does not match '$pattern': $*"; return; fi
  if [ -s "$tmp/out" ]; then fail "wrote to stdout: $*"; return; fi
  pass
}
no_temporaries() {  # no .NAME.PID.tmp anywhere under the given folders
  if [ -n "$(find "$@" -name '.*.tmp' 2>/dev/null)" ]; then fail "temporary files left: $(find "$@" -name '.*.tmp')"; else pass; fi
}

# Inputs that are not regular files, and unclear option errors
mkfifo "$tmp/fifo"
must_error "^error: $tmp: is a directory" gradient --config "$tmp"
must_error "character device" gradient --config /dev/zero
must_error "FIFO" gradient --config "$tmp/fifo"
must_error "no such file" gradient --config "$tmp/none.json"
must_error "^error: steps: must be a positive" gradient --config $cfg --solver adjointdeis-1 --steps -1
must_error "^error: --steps: needs a value" gradient --config $cfg --steps
must_error "^error: config: give --config FILE" gradient
must_error "^error: --bogus: unknown option" gradient --config $cfg --bogus 1
must_error "^error: --rtol: 'abc' is not a valid value" gradient --config $cfg --rtol abc
must_error "^error: --rtol: must be a finite number" gradient --config $cfg --rtol nan
must_error "^error: steps: entry 2 of '5,,10' is empty" convergence --config $cfg --out "$tmp/conv" --steps 5,,10
must_error "^error: --solvers: 'adjointdeis-1/exact,' is not a valid value" convergence --config $cfg --out "$tmp/conv" --solvers adjointdeis-1/exact,
must_error "^error: --floor: must be a finite number, got nan" convergence --config $cfg --out "$tmp/conv" --floor nan
must_error "^error: --floor: must be a finite number, got inf" convergence --config $cfg --out "$tmp/conv" --floor inf
must_error "^error: floor: must be a finite number" convergence --config $cfg --out "$tmp/conv" --floor -1
must_error "^error: name: " convergence --config $cfg --out "$tmp/conv" --name ''
must_error "^error: name: must not be empty" network-study --data x --model "$unet" --out "$tmp/ns" --name ''
must_error "^error: out $tmp/fifo: is a FIFO" convergence --config $cfg --out "$tmp/fifo" --steps 5,10
must_error "^error: learning-rates: 'x' is not a finite number" morph --config examples/morph/morph.json --out "$tmp/m" --learning-rates 0.1,x
# morph checks --out and T/t_eps before the experiment (the config's paths are relative to its folder: copy it beside)
sed 's/"T": 1,/"T": 5,/' examples/morph/morph.json > examples/morph/.check-T.$$.json
must_error "^error: T: must be at most" morph --config examples/morph/.check-T.$$.json --out "$tmp/morph-T"
rm -f examples/morph/.check-T.$$.json
must_error "^error: out $tmp/fifo: is a FIFO" morph --config examples/morph/morph.json --out "$tmp/fifo"
[ ! -e "$tmp/morph-T" ] && pass || fail "a refused morph run created its --out folder"
must_error "is a directory" unet-vjp --model tiny --inputs "$unet/inputs.safetensors" --output "$tmp"
must_error "does not exist" unet-vjp --model tiny --inputs "$unet/inputs.safetensors" --output "$tmp/no/such/out.st"
[ ! -e "$tmp/conv" ] && pass || fail "a refused convergence run created its --out folder"

# stdout write failures
for cmd in "gradient --config $cfg --solver adjointdeis-1" "convergence --config $cfg --out $tmp/conv-full --steps 5,10 --solvers adjointdeis-1/exact"; do
  $bin $cmd > /dev/full 2> "$tmp/err"; rc=$?
  if [ $rc -ne 0 ] && grep -q "^error: stdout: cannot write the output: No space left on device" "$tmp/err"; then pass; else fail "exit $rc writing to /dev/full: $cmd"; fi
done

# --output through devices, FIFOs and symbolic links
vjp=(unet-vjp --model "$unet" --inputs "$unet/inputs.safetensors")
"$bin" "${vjp[@]}" --output /dev/null 2> "$tmp/err" && [ -c /dev/null ] && pass || fail "--output /dev/null"
mkfifo "$tmp/out.fifo"; (wc -c < "$tmp/out.fifo" > "$tmp/fifo.count") & reader=$!
"$bin" "${vjp[@]}" --output "$tmp/out.fifo" 2> "$tmp/err"; rc=$?; wait $reader
[ $rc -eq 0 ] && [ -p "$tmp/out.fifo" ] && [ "$(cat "$tmp/fifo.count")" -gt 1000 ] && pass || fail "--output FIFO (exit $rc)"
mkdir -p "$tmp/real"; echo old > "$tmp/real/out.st"; ln -s real/out.st "$tmp/link.st"
"$bin" "${vjp[@]}" --output "$tmp/link.st" 2> "$tmp/err" && [ -L "$tmp/link.st" ] && [ "$(stat -c %s "$tmp/real/out.st")" -gt 1000 ] \
  && pass || fail "--output through a symbolic link"
"$bin" "${vjp[@]}" --output /dev/full > /dev/null 2> "$tmp/err"; rc=$?
[ $rc -ne 0 ] && grep -q "^error: /dev/full: cannot write: No space left on device" "$tmp/err" && [ -c /dev/full ] && pass || fail "--output /dev/full"

# SIGTERM mid-run removes the staging folder and exits 143; SIGKILL leaves it and the next run sweeps it
# (16 seeds: about 6 s in a debug build, so that the signal at 1.5 s lands mid-run, not after the commit, on a fast
# machine too; 4 seeds took 1.5 s and raced the commit)
long=(convergence --config $cfg --out "$tmp/sig/out" --steps 5,10,20,40,80,160,320,640,1280 --seeds 16)
"$bin" "${long[@]}" > /dev/null 2>&1 & pid=$!; sleep 1.5; kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 143 ] && pass || fail "SIGTERM exit status $rc (want 143)"
no_temporaries "$tmp/sig"
[ ! -e "$tmp/sig/out" ] && pass || fail "a killed run left a partial --out folder"
"$bin" "${long[@]}" > /dev/null 2>&1 & pid=$!; sleep 1.5; kill -KILL $pid; wait $pid 2>/dev/null
[ -n "$(find "$tmp/sig" -name '.out.*.tmp')" ] && pass || fail "SIGKILL should leave the staging folder (nothing can remove it)"
"$bin" convergence --config $cfg --out "$tmp/sig/out" --steps 5,10 --solvers adjointdeis-1/exact > /dev/null 2>&1 \
  && pass || fail "the run after a kill"
no_temporaries "$tmp/sig"

# A full disk (64 KB tmpfs): the write fails with the reason, no temporary file, no partial output set
if mkdir -p "$tmp/full" && mount -t tmpfs -o size=64k tmpfs "$tmp/full" 2>/dev/null; then
  full="$tmp/full"
  must_error "No space left on device" "${vjp[@]}" --output "$full/out.st"
  no_temporaries "$full"
  must_error "No space left on device" convergence --config $cfg --out "$full/study" --steps 5,10,20,40,80,160,320,640 --seeds 2
  no_temporaries "$full"
  [ -z "$(ls -A "$full")" ] && pass || fail "full disk: partial output left: $(ls -A "$full")"
  must_error "^error: $full/train/[a-z_]+\.safetensors: cannot write: No space left on device" train --data examples/network/image-mixture.json \
    --model-config examples/network/unet-small.json --steps 2 --batch 2 --out "$full/train"
  [ -z "$(ls -A "$full")" ] && pass || fail "full disk: train left files: $(ls -A "$full")"
  # --out whose parent is read-only (a read-only tmpfs with a writable one mounted on it): staged inside --out instead
  ro="$tmp/ro"; mkdir -p "$ro" && mount -t tmpfs -o size=1m tmpfs "$ro" && mkdir "$ro/out" && mount -o remount,ro "$ro" \
    && mount -t tmpfs -o size=4m tmpfs "$ro/out"
  "$bin" convergence --config $cfg --out "$ro/out" --steps 5,10 --solvers adjointdeis-1/exact > /dev/null 2> "$tmp/err" \
    && [ -f "$ro/out/summary.md" ] && pass || fail "--out in a read-only parent"
  no_temporaries "$ro"
  umount "$ro/out"; umount "$ro"
else
  echo "(no tmpfs: full-disk checks skipped)"
fi

echo "files and errors: $ok passed, $bad failed"
[ "$bad" -eq 0 ]
