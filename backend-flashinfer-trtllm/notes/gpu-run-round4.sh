#!/usr/bin/env bash
# Round 4 device call (one call, <= 200 s): GPU tests (determinism + conformance + vs reference), then the decode
# bench (M = 1..256) on the defaults, then A/B runs of the decode knobs. Each step has its own limit; at most 8 files
# land in $OUT. Run from the root of the shipped checkout with .gpu-wt-fidec carried.
set -uo pipefail
G=.gpu-wt-fidec
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
t0=$(date +%s)
left() { echo $(( ${BUDGET:-192} - ($(date +%s) - t0) )); }
{ nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader; } > "$OUT/log.txt" 2>&1
bash $G/run java -version > /dev/null 2>&1
echo "jre $(( $(date +%s) - t0 ))s" >> "$OUT/log.txt"
timeout ${TEST_S:-95} bash $G/run test --select-class dev.moespec.backend.flashinfer.FlashInferDeterminismGpuTest \
  --select-class dev.moespec.backend.flashinfer.FlashInferVsReferenceGpuTest \
  --select-class dev.moespec.backend.flashinfer.FlashInferConformanceGpuTest > "$OUT/tests.log" 2>&1
echo "tests rc=$? $(( $(date +%s) - t0 ))s $(grep -E 'tests (successful|failed|aborted)' "$OUT/tests.log" | tr -s ' ' | tr '\n' ' ')" >> "$OUT/log.txt"
grep -E "✘" "$OUT/tests.log" | head -20 >> "$OUT/log.txt"
cp=""; for d in $G/mod/*/classes $G/lib/*.jar; do [[ $d == */mod/examples-* ]] || cp="$cp:$d"; done
J=(/tmp/gpu-pack-jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -XX:+UseParallelGC -cp "${cp#:}")
bench() {  # name limit jvm-flags... -- args...
  local name=$1 lim=$2; shift 2; local flags=(); while [[ $1 != -- ]]; do flags+=("$1"); shift; done; shift
  local l; l=$(left); (( l < 12 )) && { echo "skip $name: ${l}s left" >> "$OUT/log.txt"; return; }
  (( lim > l )) && lim=$l
  timeout "$lim" "${J[@]}" "${flags[@]}" dev.moespec.cli.Moespec bench moe "$@" --json "$OUT/$name.json" > "$OUT/$name.md" 2>> "$OUT/log.txt"
  echo "$name rc=$? $(( $(date +%s) - t0 ))s" >> "$OUT/log.txt"
}
bench g ${G_S:-70} -- --backend flashinfer_trtllm --dtype fp8block,fp8 --tokens 1,4,16,64,256 --reps 20
bench x1 ${X1_S:-40} -Dmoespec.flashinfer.decodeX2=false -- --backend flashinfer_trtllm --dtype fp8block --tokens 1,4,16,64,256 --reps 20
bench w4 ${W4_S:-30} -Dmoespec.flashinfer.splitWaves=4 -- --backend flashinfer_trtllm --dtype fp8block --tokens 1,4,16 --reps 20
echo "total $(( $(date +%s) - t0 ))s" >> "$OUT/log.txt"
