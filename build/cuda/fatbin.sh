#!/usr/bin/env bash
# Compiles every *.cu of one module into a single fatbin (called by the cuda-kernels Maven profile).
#   fatbin.sh SRC_DIR OUT_FATBIN NVCC ROOT_TARGET
# All .cu files become one translation unit (a generated file that #includes them), so a module ships
# exactly one fatbin; kernels are extern "C" so Java finds them by plain name.
# Without nvcc this exits 0 and says so once per build (a marker in the root target/ dir).
set -euo pipefail
src=$1 out=$2 nvcc=${3:-nvcc} root_target=${4:-}
shopt -s nullglob
files=("$src"/*.cu)
((${#files[@]})) || exit 0
if ! command -v "$nvcc" >/dev/null 2>&1; then
  for c in "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
    [[ -x $c ]] && { nvcc=$c; break; }
  done
fi
if ! command -v "$nvcc" >/dev/null 2>&1; then
  marker=${root_target:-/tmp}/.moespec-nvcc-missing
  # "once": the first module of this build prints; the marker is fresh for 30 minutes
  if [[ -z $(find "$marker" -mmin -30 2>/dev/null) ]]; then
    mkdir -p "$(dirname "$marker")"; touch "$marker"
    echo "[moespec] nvcc not found: CUDA kernels were NOT built (CPU-only build). GPU backends will report Rejected(NO_KERNELS). Install CUDA or pass -Dmoespec.nvcc=/path/to/nvcc." >&2
  fi
  exit 0
fi
# Rebuild only when a source is newer than the fatbin.
if [[ -f $out ]]; then
  stale=0
  for f in "$src"/*.cu "$src"/*.cuh; do [[ $f -nt $out ]] && stale=1; done
  ((stale)) || exit 0
fi
mkdir -p "$(dirname "$out")"
tu=$(mktemp --suffix=.cu)
trap 'rm -f "$tu"' EXIT
for f in "${files[@]}"; do echo "#include \"$(realpath "$f")\""; done > "$tu"
echo "[moespec] nvcc: ${#files[@]} file(s) of $src -> $(basename "$out")"
"$nvcc" -fatbin -O3 -std=c++17 -I"$src" \
  -gencode=arch=compute_80,code=sm_80 \
  -gencode=arch=compute_89,code=sm_89 \
  -gencode=arch=compute_90a,code=sm_90a \
  -gencode=arch=compute_90,code=compute_90 \
  -o "$out" "$tu"
