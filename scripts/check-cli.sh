#!/usr/bin/env bash
# Runs `adjointdeis gradient` on every example config with every combination of solver, sampler, state source and
# grid. Each run must either succeed with JSON whose numbers are all finite, or fail with a one-line error that names
# an option (exit code non-zero, nothing on stdout). A few combinations must fail. Then the file and output checks
# (scripts/check-cli-files.sh). Prints a count; exits 1 on a breach.
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build --show-bin-path)/adjointdeis}"
[ -x "$bin" ] || { echo "build first (swift build), or pass the binary's path" >&2; exit 2; }
ok=0; rejected=0; bad=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
check() {
  if "$bin" gradient "$@" > "$tmp/out" 2> "$tmp/err"; then
    if python3 -c 'import json,sys,math
d=json.load(open(sys.argv[1]))
def walk(v):
    if isinstance(v, dict): [walk(x) for x in v.values()]
    elif isinstance(v, list): [walk(x) for x in v]
    elif isinstance(v, float): assert math.isfinite(v)
walk(d); assert len(d["grad_xT"]) == len(d["x0"])' "$tmp/out" 2>/dev/null; then ok=$((ok+1)); else echo "BAD OUTPUT: $*"; bad=$((bad+1)); fi
  else
    if [ ! -s "$tmp/out" ] && [ "$(grep -c . "$tmp/err")" -eq 1 ] && grep -q "^error: " "$tmp/err"; then rejected=$((rejected+1)); else echo "BAD FAILURE: $*"; cat "$tmp/err"; bad=$((bad+1)); fi
  fi
}
for config in examples/*.json; do
  check --config "$config"
  for solver in adjointdeis-1 adjointdeis-2m adjointdeis-3m dto; do
    for sampler in dpm-solver-1 dpm-solver-2m dpm-solver-3m sde; do
      for states in exact recorded resolved; do
        for grid in lambda time-uniform time-quadratic karras shifted; do
          extra=(); [ "$solver" = dto ] && [ "$states" != recorded ] && continue
          [ "$solver" != dto ] && extra=(--states "$states")
          check --config "$config" --solver "$solver" --sampler "$sampler" "${extra[@]}" --grid "$grid" --sampler-steps 8
          check --config "$config" --solver "$solver" --sampler "$sampler" "${extra[@]}" --grid "$grid" --sampler-steps 8 --steps 12
        done
      done
    done
  done
  check --config "$config" --solver adjointdeis-2m --weight phi2 --states exact --steps 10
  check --config "$config" --solver dto --sampler dpm-solver-2m --checkpoint 3 --sampler-steps 10
  check --config "$config" --rk45-states backsolve
  for solver in adjointdeis-1/data adjointdeis-2m/exact/data adjointdeis-1/sde/data rex-rk4 bdia edict adjointdpm-rk4 dto-gl; do
    check --config "$config" --solver "$solver" --sampler-steps 8
  done
done
# Must fail:
must_fail() { if "$bin" gradient "$@" >/dev/null 2>&1; then echo "SHOULD HAVE FAILED: $*"; bad=$((bad+1)); fi; }
c=examples/mixture-3d.json
must_fail --config $c --solver adjointdeis-1 --sampler sde --states exact
must_fail --config $c --solver adjointdeis-1 --states recorded --steps 7 --sampler-steps 8
must_fail --config $c --solver rk45 --steps 10
must_fail --config $c --solver rk45 --grid lambda
must_fail --config $c --solver dto --rtol 1e-6
must_fail --config $c --solver adjointdeis-3m --weight phi2
must_fail --config $c --solver adjointdeis-1/exact --states recorded
must_fail --config $c --solver adjointdeis-3
must_fail --config $c --solver dto --states exact
must_fail --config $c --solver adjointdeis-1 --steps 0
must_fail --config $c --solver adjointdeis-1 --grid log
must_fail --config $c --solver adjointdeis-1 --seed 3
must_fail --config /nonexistent.json
# Flow matching and EDM (docs/math.md#beyond-vp): bad schedule values, and methods that cannot start at pure noise.
fm=examples/mixture-fm.json
must_fail --config $fm --solver rex-rk4
must_fail --config $fm --solver adjointdpm-rk4
must_fail --config $fm --solver adjointdeis-1 --sampler sde
must_fail --config $fm --solver adjointdeis-1 --grid lambda
must_fail --config $fm --solver adjointdeis-gl-1
for edit in 's/"T": 1.0/"T": 1.5/' 's/"schedule": "flow-matching"/"schedule": "rectified"/' \
            's/"schedule": "flow-matching",/"schedule": "flow-matching", "shift": 0,/' \
            's/"schedule": "flow-matching",/"schedule": "flow-matching", "mu": 0.5,/'; do
  sed "$edit" $fm > "$tmp/bad.json"
  must_fail --config "$tmp/bad.json"
done
sed 's/"t_eps": 0.002/"t_eps": 90/' examples/mixture-edm.json > "$tmp/bad.json"
must_fail --config "$tmp/bad.json"
echo "$ok passed, $bad failed ($rejected combinations rejected with a clear error)"
"$(dirname "$0")/check-cli-files.sh" "$bin" || bad=$((bad+1))
"$(dirname "$0")/check-euler-cli.sh" "$bin" || bad=$((bad+1))
[ "$bad" -eq 0 ]
