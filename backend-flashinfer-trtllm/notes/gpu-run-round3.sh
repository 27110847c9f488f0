#!/usr/bin/env bash
# Round 3 device call: GPU tests (new warp-specialised kernels forced on 128-row cases), then the prefill bench
# rows on the warp-specialised kernels and (A/B) on round 2's wgmma kernels. Each step has its own time limit.
set -uo pipefail
G=.gpu-wt-fi
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
t0=$(date +%s)
left() { echo $(( ${BUDGET:-230} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader > "$OUT/gpu.txt" 2>&1
ls /usr/local/cuda*/bin 2>/dev/null | grep -E "^(ncu|nsys)$" | sort -u | tr '\n' ' ' >> "$OUT/gpu.txt"
bash $G/run java -version > /dev/null 2>&1
echo "jre $(( $(date +%s) - t0 ))s"
timeout ${TEST_S:-110} bash $G/run test --select-class dev.moespec.backend.flashinfer.FlashInferVsReferenceGpuTest \
  --select-class dev.moespec.backend.flashinfer.FlashInferConformanceGpuTest > "$OUT/tests.log" 2>&1
echo "tests rc=$? $(( $(date +%s) - t0 ))s $(grep -E 'tests (successful|failed|aborted)' "$OUT/tests.log" | tr -s ' ' | tr '\n' ' ')"
grep "rel.err" "$OUT/tests.log" | sed 's/^.*flashinfer_trtllm vs/vs/' > "$OUT/errors.txt"
if grep -E 'tests failed' "$OUT/tests.log" | grep -qv ' 0 tests failed' || ! grep -q 'tests failed' "$OUT/tests.log"; then
  echo "tests did not pass: no bench"; grep -E "✘" "$OUT/tests.log" | head -20; exit 0
fi
cp=""; for d in $G/mod/*/classes $G/lib/*.jar; do [[ $d == */mod/examples-* ]] || cp="$cp:$d"; done
J=(/tmp/gpu-pack-jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -XX:+UseParallelGC -cp "${cp#:}")
bench() {  # name limit jvm-flags... -- args...
  local name=$1 lim=$2; shift 2; local flags=(); while [[ $1 != -- ]]; do flags+=("$1"); shift; done; shift
  local l; l=$(left); (( l < 15 )) && { echo "skip $name: ${l}s left"; return; }
  (( lim > l )) && lim=$l
  timeout "$lim" "${J[@]}" "${flags[@]}" dev.moespec.cli.Moespec bench moe "$@" --json "$OUT/$name.json" > "$OUT/$name.md" 2> "$OUT/$name.err"
  echo "$name rc=$? $(( $(date +%s) - t0 ))s"
}
R=${REPS:-20}
bench ws ${WS_S:-70} -- --backend flashinfer_trtllm --dtype fp8block,fp8 --tokens ${TOKENS:-256,1024,4096} --reps $R
bench wg ${WG_S:-60} -Dmoespec.flashinfer.ws=false -- --backend flashinfer_trtllm --dtype fp8block,fp8 --tokens ${TOKENS:-256,1024,4096} --reps $R
echo "total $(( $(date +%s) - t0 ))s"
