#!/usr/bin/env bash
# The Euler-family pipelines through the command line (issue 22): gradient --pipeline and guide succeed on the committed
# flow-matching and EDM pipelines and on EulerDiscrete / EDMEuler scheduler configs, with diffusers' loop and with the
# continuous-time methods on the pipelines' own schedules (invert on EDM); every refusal is one line
# `error: <what>: <why>` on stderr naming the option or field, a non-zero exit, nothing on stdout and no output file.
# Prints a count; exits 1 on a breach.
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build --show-bin-path)/adjointdeis}"
[ -x "$bin" ] || { echo "build first (swift build), or pass the binary's path" >&2; exit 2; }
P=Tests/NeuralCoreTests/Fixtures/pipelines; S=$P/loop/euler/schedulers; FM=$P/flowmatch-tiny; T=$P/images/gray.png
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok=0; bad=0
succeeds() {  # the command must exit 0 with JSON on stdout
  if "$@" > "$tmp/out" 2> "$tmp/err" && grep -q '"loss"\|"methods"' "$tmp/out"; then ok=$((ok+1)); else echo "FAILED: $*"; cat "$tmp/err"; bad=$((bad+1)); fi
}
refuses() {  # $1: the field the error must name; then the command (which would write $tmp/o.safetensors or $tmp/g)
  local field=$1; shift
  if "$@" > "$tmp/out" 2> "$tmp/err"; then echo "NOT REFUSED: $*"; bad=$((bad+1)); return; fi
  if [ -s "$tmp/out" ] || [ -e "$tmp/o.safetensors" ] || [ -e "$tmp/g" ] || [ "$(grep -c '^error: ' "$tmp/err")" -ne 1 ] \
     || ! tail -1 "$tmp/err" | grep -q "^error: \([^ ]*: \)\?$field: "; then
    echo "BAD REFUSAL ($field): $*"; cat "$tmp/err"; bad=$((bad+1))
  else ok=$((ok+1)); fi
}
grad=(gradient --target "$T" --seed 1 --output "$tmp/o.safetensors")
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --dtype float64 --sampler-steps 8
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-dynamic-mu.json" --mu 0.8 --checkpoint 3
for s in euler-karras-v-trailing-sigmamin edm-karras-eps edm-exponential-eps; do
  succeeds "$bin" "${grad[@]}" --pipeline "$P/ddpm-linear-epsilon" --scheduler-config "$S/$s.json" --sampler-steps 6
done
succeeds "$bin" "${grad[@]}" --pipeline "$P/ddpm-linear-epsilon" --scheduler-config "$S/euler-karras-eps.json" --solver adjointdeis-1
succeeds "$bin" guide --pipeline "$FM" --target "$T" --seed 1 --steps 2 --sampler-steps 5 --out "$tmp/guide"
rm -f "$tmp/o.safetensors"
# the continuous-time methods on the pipelines' own schedules (flow-matching from pure noise, edm; docs/diffusers-loop.md#continuous-schedules)
EDM=$P/edm-tiny
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --pipeline-sampler continuous
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --solver adjointdeis-2m
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --solver adjointdeis-2m/data --grid shifted --sampler-steps 6
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --solver rk45
succeeds "$bin" "${grad[@]}" --pipeline "$P/ddpm-linear-epsilon" --scheduler-config "$S/edm-karras-v.json" --solver dto --sampler dpm-solver-2m
for s in adjointdeis-2m/data rex-rk4 bdia adjointdpm-rk4; do
  succeeds "$bin" "${grad[@]}" --pipeline "$EDM" --solver $s --sampler-steps 6
done
succeeds "$bin" "${grad[@]}" --pipeline "$EDM" --pipeline-sampler continuous --sampler-steps 6
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-dynamic-mu.json" --mu 0.8 --pipeline-sampler continuous --grid shifted
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-dynamic-linear-mu.json" --mu 0.8 --solver adjointdeis-2m/data --grid shifted
succeeds "$bin" guide --pipeline "$EDM" --target "$T" --seed 1 --steps 2 --sampler-steps 5 --methods dto,adjointdeis-2m/data --out "$tmp/guide4"
succeeds "$bin" guide --pipeline "$FM" --target "$T" --seed 1 --steps 2 --sampler-steps 5 --methods dto,adjointdeis-1 --out "$tmp/guide3"
if "$bin" invert --pipeline "$EDM" --image "$T" --sampler-steps 6 --output "$tmp/inv.safetensors" > "$tmp/out" 2> "$tmp/err" && grep -q '"round_trip_error"' "$tmp/out"; then
  ok=$((ok+1)); else echo "FAILED: invert on $EDM"; cat "$tmp/err"; bad=$((bad+1)); fi
rm -f "$tmp/o.safetensors"
# what still cannot run: from pure noise (FM at T = 1) the reversible samplers, AdjointDPM and the SDE; invert_sigmas
for s in rex-rk4 bdia adjointdpm-rk4; do
  refuses solver "$bin" "${grad[@]}" --pipeline "$FM" --solver $s
done
refuses sampler "$bin" "${grad[@]}" --pipeline "$FM" --solver dto --sampler sde
refuses pipeline-sampler "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-invert.json" --pipeline-sampler continuous
refuses mu "$bin" "${grad[@]}" --pipeline "$FM" --mu 0.5 --pipeline-sampler continuous
refuses solver "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-invert.json" --solver adjointdeis-1
refuses mu "$bin" "${grad[@]}" --pipeline "$FM" --mu 0.5
refuses mu "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-dynamic-mu.json"
refuses timesteps "$bin" "${grad[@]}" --pipeline "$FM" --timesteps 999,500
refuses methods "$bin" guide --pipeline "$FM" --scheduler-config "$S/fm-invert.json" --target "$T" --methods dto,adjointdeis-1 --out "$tmp/g"
# stochastic_sampling: the draws of every step are given (--noise FILE) or drawn from --seed (a note on stderr)
printf '[%s]' "$(for i in 1 2 3; do printf '[%s]%s' "$(seq -s, 64 | sed 's/[0-9]*/0.1/g')" "$([ $i -lt 3 ] && echo ,)"; done)" > "$tmp/noise3.json"
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-shift3-stochastic.json" --sampler-steps 3 --noise "$tmp/noise3.json"
succeeds "$bin" guide --pipeline "$FM" --scheduler-config "$S/fm-shift3-stochastic.json" --target "$T" --seed 1 --steps 2 --sampler-steps 3 --out "$tmp/guide2"
succeeds "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-shift3-stochastic.json" --sampler-steps 3
rm -f "$tmp/o.safetensors"
refuses noise "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$S/fm-shift3-stochastic.json" --sampler-steps 4 --noise "$tmp/noise3.json"
refuses noise "$bin" "${grad[@]}" --pipeline "$FM" --sampler-steps 3 --noise "$tmp/noise3.json"
refuses pipeline "$bin" invert --pipeline "$FM" --image "$T" --output "$tmp/o.safetensors"
for bad_config in '"shift": 0' '"shift": -1' '"shift_terminal": 1.5' '"stochastic_sampling": 1' '"use_beta_sigmas": true' \
                  '"use_karras_sigmas": true, "use_exponential_sigmas": true'; do
  echo "{\"_class_name\": \"FlowMatchEulerDiscreteScheduler\", $bad_config}" > "$tmp/bad.json"
  field=$(echo "$bad_config" | sed 's/^"\([a-z_]*\)".*/\1/')
  refuses "$field" "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$tmp/bad.json"
done
for bad_config in '"sigma_min": 100' '"sigma_data": 0' '"rho": 0' '"prediction_type": "sample"'; do
  echo "{\"_class_name\": \"EDMEulerScheduler\", $bad_config}" > "$tmp/bad.json"
  field=$(echo "$bad_config" | sed 's/^"\([a-z_]*\)".*/\1/')
  refuses "$field" "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$tmp/bad.json"
done
for bad_config in '"interpolation_type": "log_linear"' '"rescale_betas_zero_snr": true' '"use_karras_sigmas": true, "sigma_min": 3, "sigma_max": 2'; do
  echo "{\"_class_name\": \"EulerDiscreteScheduler\", $bad_config}" > "$tmp/bad.json"
  field=$(echo "$bad_config" | sed 's/.*"\(sigma_min\)".*/\1/; s/^"\([a-z_]*\)".*/\1/')
  refuses "$field" "$bin" "${grad[@]}" --pipeline "$FM" --scheduler-config "$tmp/bad.json"
done
echo "euler pipelines: $ok checks passed, $bad breaches"
[ "$bad" -eq 0 ]
