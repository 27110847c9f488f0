#!/usr/bin/env bash
# One device call for round 2 (budget: minutes): GPU tests, SASS check, then `moespec bench moe` for ours and for
# triton on the same machine, then an A/B of the wgmma path against mma.sync. Each step has its own time limit so
# that a slow one cannot eat the rest; everything lands under $OUT. Keep at most 8 files there: the run tool returns
# no more (round 2 lost triton.md/.err that way). Run from the root of the shipped checkout:
#   bash .gpu-fp82/fp82.sh      (carry: .gpu-fp82)
set -uo pipefail
G=.gpu-fp82
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
t0=$(date +%s)
left() { echo $(( ${BUDGET:-200} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv > "$OUT/gpu.txt" 2>&1
bash $G/run java -version > /dev/null 2>&1   # unpacks the JRE at /tmp/gpu-pack-jre
FB=$G/mod/backend-flashinfer-trtllm/classes/META-INF/moespec/kernels/moespec-backend-flashinfer-trtllm.fatbin
if command -v cuobjdump > /dev/null; then
  cuobjdump -sass "$FB" > "$OUT/sass.txt" 2>&1
  echo "SASS: QGMMA=$(grep -c QGMMA "$OUT/sass.txt") QMMA=$(grep -c 'QMMA' "$OUT/sass.txt")"
fi
# 1. the tests that must pass
timeout 90 bash $G/run test --select-class dev.moespec.backend.flashinfer.FlashInferConformanceGpuTest \
  --select-class dev.moespec.backend.flashinfer.FlashInferVsReferenceGpuTest > "$OUT/tests.log" 2>&1
echo "tests rc=$? $(grep -E 'tests (successful|failed|aborted)' "$OUT/tests.log" | tr -s ' ' | tr '\n' ' ')"
grep "rel.err" "$OUT/tests.log" | sed 's/^.*flashinfer_trtllm vs/vs/' > "$OUT/errors.txt"
WG=true
if grep -q "bm=128.*exceeds\|bm=128.*not written" "$OUT/tests.log" || grep -E 'tests failed' "$OUT/tests.log" | grep -qv ' 0 tests failed'; then
  WG=false; echo "wgmma tests FAILED: benches run with -Dmoespec.flashinfer.wgmma=false"
fi
# 2. bench: the classpath without examples/ (duplicate-backend claims 'triton' on purpose)
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
bench fi 75 -Dmoespec.flashinfer.wgmma=$WG -- --backend flashinfer_trtllm --dtype fp8block,fp8 --reps $R
bench triton 90 -- --backend triton --dtype fp8block,fp8,bf16 --reps $R
# 3. A/B: the same prefill rows on the mma.sync path (round 1's kernels)
bench fi_mma 40 -Dmoespec.flashinfer.wgmma=false -- --backend flashinfer_trtllm --dtype fp8block,fp8 --tokens 256,1024,4096 --reps $R
echo "total $(( $(date +%s) - t0 ))s"
tail -n 40 "$OUT/fi.md"
