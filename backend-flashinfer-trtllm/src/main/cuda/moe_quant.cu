// The element-wise stages of flashinfer_trtllm's MoE around the grouped GEMMs:
//   fi_quant_hidden_block  : hidden bf16 [M,H] -> e4m3 + per-token 128-group scales
//   fi_amax_partial_bf16   : per-block amax of a bf16 tensor (FP8_PER_TENSOR's dynamic activation scale)
//   fi_amax_finalize       : reduces partial amaxes to one scale = amax / 448 (1 for all zeros)
//   fi_quant_tensor_bf16   : e4m3 with one device-side scale
//   fi_quant_tensor_f32    : the same for the fp32 SwiGLU intermediate, over the padded rows the GEMMs produced
//   fi_finalize_out        : GEMM 2's fp32 partial rows [splits][M*k][H] -> bf16 out [M,H]: for each token, the sum
//                            over top-k slots (slot order) of router weight x (sum over splits, split order), in
//                            fp32: a fixed order, so the output is bit-identical from run to run and independent of
//                            the other rows of the batch (TRT-LLM's "finalize")
// Quantisation matches spi-moe's ActivationQuantizer: e4m3(x / scale), round to nearest, saturate.

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp8.h>

namespace moespec_fi {
constexpr float kE4m3MaxQ = 448.f;
}

// One warp per (token, 128-column group); H is a multiple of 128 (the provider's rule for fp8_block_128).
extern "C" __global__ void fi_quant_hidden_block(const __nv_bfloat16* __restrict__ x, int num_tokens, int hidden,
                                                 __nv_fp8_storage_t* __restrict__ out, float* __restrict__ scales) {
    const int groups = hidden / 128;
    const int64_t item = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (item >= (int64_t)num_tokens * groups) return;
    const int lane = threadIdx.x % 32;
    const int64_t token = item / groups;
    const int group = (int)(item % groups);
    const int64_t base = token * hidden + group * 128 + lane * 4;  // 4 consecutive columns per lane: 8-byte loads
    const uint2 raw = *reinterpret_cast<const uint2*>(x + base);
    const __nv_bfloat162 p0 = *reinterpret_cast<const __nv_bfloat162*>(&raw.x);
    const __nv_bfloat162 p1 = *reinterpret_cast<const __nv_bfloat162*>(&raw.y);
    float v[4] = {__low2float(p0), __high2float(p0), __low2float(p1), __high2float(p1)};
    float amax = fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3])));
#pragma unroll
    for (int off = 16; off > 0; off /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    const float scale = amax > 0.f ? amax / moespec_fi::kE4m3MaxQ : 1.f;
    uint32_t packed = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        packed |= (uint32_t)__nv_cvt_float_to_fp8(v[j] / scale, __NV_SATFINITE, __NV_E4M3) << (8 * j);
    }
    *reinterpret_cast<uint32_t*>(out + base) = packed;
    if (lane == 0) scales[token * groups + group] = scale;
}

__device__ __forceinline__ float fi_block_max(float v, float* red) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x / 32) ? red[lane] : 0.f;
#pragma unroll
        for (int off = 16; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    }
    return v;  // valid in thread 0
}

// partial[blockIdx.x] = amax over this block's grid-stride share of x[0, n). Block size 256.
extern "C" __global__ void fi_amax_partial_bf16(const __nv_bfloat16* __restrict__ x, int64_t n,
                                                float* __restrict__ partial) {
    __shared__ float red[32];
    float m = 0.f;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        m = fmaxf(m, fabsf(__bfloat162float(x[i])));
    }
    m = fi_block_max(m, red);
    if (threadIdx.x == 0) partial[blockIdx.x] = m;
}

// scale[0] = max(partial[0, count)) / 448, or 1 when everything is zero. One block of 256.
extern "C" __global__ void fi_amax_finalize(const float* __restrict__ partial, int count, float* __restrict__ scale) {
    __shared__ float red[32];
    float m = 0.f;
    for (int i = threadIdx.x; i < count; i += blockDim.x) m = fmaxf(m, partial[i]);
    m = fi_block_max(m, red);
    if (threadIdx.x == 0) scale[0] = m > 0.f ? m / moespec_fi::kE4m3MaxQ : 1.f;
}

// out = e4m3(x / scale[0]) over n elements.
extern "C" __global__ void fi_quant_tensor_bf16(const __nv_bfloat16* __restrict__ x, int64_t n,
                                                const float* __restrict__ scale, __nv_fp8_storage_t* __restrict__ out) {
    const float s = scale[0];
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = __nv_cvt_float_to_fp8(__bfloat162float(x[i]) / s, __NV_SATFINITE, __NV_E4M3);
    }
}

// out = e4m3(x / scale[0]) over the first meta[1] (padded rows) * cols elements.
extern "C" __global__ void fi_quant_tensor_f32(const float* __restrict__ x, const int* __restrict__ meta, int cols,
                                               const float* __restrict__ scale, __nv_fp8_storage_t* __restrict__ out) {
    const float s = scale[0];
    const int64_t n = (int64_t)meta[1] * cols;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = __nv_cvt_float_to_fp8(x[i] / s, __NV_SATFINITE, __NV_E4M3);
    }
}

// out[t, c] = bf16( sum_{j < topk} topk_w[t*topk + j] * sum_{p < splits} partial[p, t*topk + j, c] ), fp32 sums in
// that order. One thread per 8 columns of a token (two 16-byte loads per partial row, one 16-byte store); H is a
// multiple of 16.
//   partial fp32 [splits, M*topk, H] (GEMM 2; every element written, padding rows never)   out bf16 [M, H]
extern "C" __global__ void fi_finalize_out(const float* __restrict__ partial, const float* __restrict__ topk_w,
                                           int num_tokens, int topk, int hidden, int splits,
                                           __nv_bfloat16* __restrict__ out) {
    const int chunks = hidden / 8;
    const int64_t entries = (int64_t)num_tokens * topk;
    for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < (int64_t)num_tokens * chunks;
         item += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = item / chunks;
        const int c = (int)(item % chunks) * 8;
        float acc[8];
#pragma unroll
        for (int x = 0; x < 8; ++x) acc[x] = 0.f;
        for (int j = 0; j < topk; ++j) {
            const int64_t e = t * topk + j;
            float p[8];
#pragma unroll
            for (int x = 0; x < 8; ++x) p[x] = 0.f;
            for (int sp = 0; sp < splits; ++sp) {
                const float4* row = reinterpret_cast<const float4*>(partial + ((int64_t)sp * entries + e) * hidden + c);
                const float4 a = row[0], b = row[1];
                p[0] += a.x; p[1] += a.y; p[2] += a.z; p[3] += a.w;
                p[4] += b.x; p[5] += b.y; p[6] += b.z; p[7] += b.w;
            }
            const float wj = topk_w[e];
#pragma unroll
            for (int x = 0; x < 8; ++x) acc[x] = fmaf(wj, p[x], acc[x]);
        }
        uint4 packed;
        __nv_bfloat162* o = reinterpret_cast<__nv_bfloat162*>(&packed);
#pragma unroll
        for (int x = 0; x < 4; ++x) o[x] = __floats2bfloat162_rn(acc[2 * x], acc[2 * x + 1]);
        *reinterpret_cast<uint4*>(out + t * hidden + c) = packed;
    }
}
