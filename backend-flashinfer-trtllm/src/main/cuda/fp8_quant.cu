// Dynamic FP8 activation quantisation for flashinfer_trtllm's block-scale MoE (the TRT-LLM / FlashInfer /
// DeepSeek-V3 recipe): every token row is split in groups of 128 columns, and each group gets its own
// float scale so that its largest magnitude maps to e4m3's largest finite value, 448. This is the
// "1x128 dynamic activation groups" half of QuantScheme.FP8_BLOCK_128 (the weights carry 128x128 blocks).
// Kernels are extern "C" so the Java host code finds them by plain name in the module's fatbin.

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp8.h>

namespace moespec_fp8 {

constexpr int kWarp = 32;
constexpr int kGroup = 128;
constexpr int kPerLane = kGroup / kWarp;  // 4 columns per lane
constexpr float kE4m3Max = 448.f;

}  // namespace moespec_fp8

// out[m, c] = e4m3(x[m, c] / scale[m, c / 128]) with scale[m, g] = amax(|x[m, 128g .. 128g+127]|) / 448,
// and scale 1 for an all-zero group (so that dequantising never divides by zero and zeros stay zeros).
// Values are rounded to nearest and saturated to +-448.
//   x       [num_tokens, hidden] bf16, row-major
//   out     [num_tokens, hidden] e4m3 (one byte each), row-major
//   scales  [num_tokens, ceil(hidden / 128)] fp32, row-major; multiply to dequantise
// One warp per (token, group); a last partial group (hidden % 128 != 0) is handled, though the
// provider only accepts hidden sizes that are multiples of 128.
// Launch: any block size that is a multiple of 32; grid = ceil(num_tokens * groups / (blockDim.x / 32)).
extern "C" __global__ void fp8_quant_per_token_group128(const __nv_bfloat16* __restrict__ x, int num_tokens,
                                                        int hidden, __nv_fp8_storage_t* __restrict__ out,
                                                        float* __restrict__ scales) {
    using namespace moespec_fp8;
    const int groups = (hidden + kGroup - 1) / kGroup;
    const int64_t item = (int64_t)blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
    if (item >= (int64_t)num_tokens * groups) return;  // whole warp leaves together
    const int lane = threadIdx.x % kWarp;
    const int64_t token = item / groups;
    const int group = (int)(item % groups);
    const int64_t row = token * hidden;
    const int col0 = group * kGroup;

    // Lane l reads columns col0 + l + 32j: consecutive lanes touch consecutive bf16s (coalesced).
    float v[kPerLane];
    float amax = 0.f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
        const int c = col0 + lane + j * kWarp;
        v[j] = c < hidden ? __bfloat162float(x[row + c]) : 0.f;
        amax = fmaxf(amax, fabsf(v[j]));
    }
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));

    const float scale = amax > 0.f ? amax / kE4m3Max : 1.f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
        const int c = col0 + lane + j * kWarp;
        if (c < hidden) out[row + c] = __nv_cvt_float_to_fp8(v[j] / scale, __NV_SATFINITE, __NV_E4M3);
    }
    if (lane == 0) scales[token * groups + group] = scale;
}
