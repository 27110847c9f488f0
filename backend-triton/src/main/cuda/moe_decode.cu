// The small-M (decode) path of triton's fused MoE: weight streaming. With a handful of tokens the layer is
// bound by reading the hit experts' weights from HBM once, so every warp owns one weight row (two for
// GEMM 1: gate and up) of one hit expert, streams it with 16-byte loads that bypass L1 (several in flight
// per lane), and dots it with every token routed to that expert (activations come through L1). The grid
// is (rows / warps-per-block, hit experts): all SMs busy, each weight byte read exactly once.
//   moe_decode_gemm1_*   GEMM 1 + SwiGLU: inter[a, n] = silu(w13[e, n] . x[t]) * (w13[e, I + n] . x[t])
//   moe_decode_gemm2_*   GEMM 2 + router weight: partial[a, h] = w_a * (w2[e, h] . inter[a])
//   moe_reduce_topk      out[t, h] = sum over the token's k slots of partial[t * k + j, h]
// (a = t * top_k + slot is an assignment; e its expert.) The suffix names the element type (e4m3_b128 / f16_b128:
// 128x128 block scales, applied to each 128-wide K group's partial dot) and the most tokens the call has (1, 4, 8),
// which sizes the register accumulators. (Round 2 measured a GEMM 2 fused with the top-k sum, one warp per output
// column walking every hit expert: neutral at M=1, 13-18% slower at M=4, so the per-expert grid stayed.)
#include "moe_common.cuh"

namespace moespec_decode {
using namespace moe;

constexpr int kUnroll = 4;  // 16-byte weight loads in flight per lane (per row) before the first use


// Dot of one 16-byte weight chunk with one 16-byte activation chunk.
template <typename T>
__device__ __forceinline__ float dot_chunk(const float* wf, uint4 xv) {
    constexpr int N = Vec<T>::kN;
    float xf[N];
    Vec<T>::unpack(xv, xf);
    float p = 0.f;
#pragma unroll
    for (int i = 0; i < N; ++i) p = fmaf(wf[i], xf[i], p);
    return p;
}

// Block scales: [E, ceil(rows / 128), k_groups] for the weights, [rows, k_groups] for the activations.
__device__ __forceinline__ float block_weight_scale(const float* w_scale, int e, int expert_rows, int row, int k_groups, int g) {
    const int64_t blocks = (expert_rows + kScaleBlock - 1) / kScaleBlock;
    return w_scale[((int64_t)e * blocks + row / kScaleBlock) * k_groups + g];
}

template <typename T, int kMaxTok, bool kBlock>
__device__ __forceinline__ void gemm1(const char* __restrict__ x, int64_t x_row_bytes, const char* __restrict__ w13,
                                      int k_bytes, int inter_size, int top_k, const int32_t* __restrict__ sorted_rows,
                                      const int32_t* __restrict__ padded_offsets, const int32_t* __restrict__ counts,
                                      const int32_t* __restrict__ active, const int32_t* __restrict__ meta,
                                      int scale_mode, const float* __restrict__ x_scale, int x_scale_per_row,
                                      const float* __restrict__ w_scale, void* __restrict__ inter, int inter_code,
                                      float* __restrict__ inter_amax, int amax_per_row) {
    constexpr int N = Vec<T>::kN;
    const int lane = threadIdx.x % kWarp;
    const int n = blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
    if ((int)blockIdx.y >= meta[2] || n >= inter_size) return;
    const int e = active[blockIdx.y];
    const int cnt = min(counts[e], kMaxTok);
    const int base = padded_offsets[e];
    const int k_groups = (k_bytes / (int)sizeof(T) + kScaleBlock - 1) / kScaleBlock;
    int rows[kMaxTok];
    const char* xr[kMaxTok];
#pragma unroll
    for (int c = 0; c < kMaxTok; ++c) {
        rows[c] = c < cnt ? sorted_rows[base + c] : 0;
        xr[c] = x + (int64_t)(rows[c] / top_k) * x_row_bytes;
    }
    const char* wg = w13 + ((int64_t)e * 2 * inter_size + n) * k_bytes;
    const char* wu = wg + (int64_t)inter_size * k_bytes;
    float ag[kMaxTok], au[kMaxTok];
#pragma unroll
    for (int c = 0; c < kMaxTok; ++c) ag[c] = au[c] = 0.f;
    const int chunks = k_bytes / 16;
    for (int v0 = lane; v0 < chunks; v0 += kWarp * kUnroll) {
        uint4 g[kUnroll], u[kUnroll];
#pragma unroll
        for (int q = 0; q < kUnroll; ++q) {
            const int v = v0 + q * kWarp;
            if (v < chunks) {
                g[q] = ld_stream(wg + (int64_t)v * 16);
                u[q] = ld_stream(wu + (int64_t)v * 16);
            }
        }
#pragma unroll
        for (int q = 0; q < kUnroll; ++q) {
            const int v = v0 + q * kWarp;
            if (v >= chunks) break;
            float gf[N], uf[N];
            Vec<T>::unpack(g[q], gf);
            Vec<T>::unpack(u[q], uf);
            float sg = 1.f, su = 1.f;
            const int grp = v * N / kScaleBlock;
            if (kBlock) {
                sg = block_weight_scale(w_scale, e, 2 * inter_size, n, k_groups, grp);
                su = block_weight_scale(w_scale, e, 2 * inter_size, inter_size + n, k_groups, grp);
            }
#pragma unroll
            for (int c = 0; c < kMaxTok; ++c) {
                if (c < cnt) {
                    const uint4 xv = ld_cached(xr[c] + (int64_t)v * 16);
                    const float pg = dot_chunk<T>(gf, xv), pu = dot_chunk<T>(uf, xv);
                    if (kBlock) {
                        const float xs = x_scale[(int64_t)(rows[c] / top_k) * k_groups + grp];
                        ag[c] = fmaf(pg, xs * sg, ag[c]);
                        au[c] = fmaf(pu, xs * su, au[c]);
                    } else {
                        ag[c] += pg;
                        au[c] += pu;
                    }
                }
            }
        }
    }
    const int64_t expert_rows = (int64_t)e * 2 * inter_size;
    const float wsg = weight_scale(scale_mode, w_scale, e, expert_rows + n);
    const float wsu = weight_scale(scale_mode, w_scale, e, expert_rows + inter_size + n);
#pragma unroll
    for (int c = 0; c < kMaxTok; ++c) {
        if (c < cnt) {
            float gsum = warp_sum(ag[c]), usum = warp_sum(au[c]);
            if (lane == c % kWarp) {
                const int a = rows[c];
                if (scaled_after_dot(scale_mode)) {
                    const float xs = x_scale[x_scale_per_row ? a / top_k : 0];
                    gsum *= xs * wsg;
                    usum *= xs * wsu;
                }
                const float h = swiglu(gsum, usum);
                store_from_float(inter, inter_code, (int64_t)a * inter_size + n, h);
                // an fp32 intermediate (FP8 layers) records its maxima; block-128 layers take theirs in the quantisation kernel
                if (inter_code != kBF16 && inter_code != kF16 && !kBlock) {
                    atomic_max_nonneg(&inter_amax[amax_per_row ? a : 0], fabsf(h));
                }
            }
        }
    }
}

template <typename T, int kMaxTok, bool kBlock>
__device__ __forceinline__ void gemm2(const char* __restrict__ inter, const char* __restrict__ w2, int k_bytes,
                                      int hidden_size, const int32_t* __restrict__ sorted_rows,
                                      const int32_t* __restrict__ padded_offsets, const int32_t* __restrict__ counts,
                                      const int32_t* __restrict__ active, const int32_t* __restrict__ meta,
                                      int scale_mode, const float* __restrict__ inter_scale, int inter_scale_per_row,
                                      const float* __restrict__ w_scale, const float* __restrict__ topk_weights,
                                      float* __restrict__ partial) {
    constexpr int N = Vec<T>::kN;
    const int lane = threadIdx.x % kWarp;
    const int h = blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
    if ((int)blockIdx.y >= meta[2] || h >= hidden_size) return;
    const int e = active[blockIdx.y];
    const int cnt = min(counts[e], kMaxTok);
    const int base = padded_offsets[e];
    const int k_groups = (k_bytes / (int)sizeof(T) + kScaleBlock - 1) / kScaleBlock;
    int rows[kMaxTok];
#pragma unroll
    for (int c = 0; c < kMaxTok; ++c) rows[c] = c < cnt ? sorted_rows[base + c] : 0;
    const char* w = w2 + ((int64_t)e * hidden_size + h) * k_bytes;
    float acc[kMaxTok];
#pragma unroll
    for (int c = 0; c < kMaxTok; ++c) acc[c] = 0.f;
    const int chunks = k_bytes / 16;
    for (int v0 = lane; v0 < chunks; v0 += kWarp * kUnroll) {
        uint4 wv[kUnroll];
#pragma unroll
        for (int q = 0; q < kUnroll; ++q) {
            const int v = v0 + q * kWarp;
            if (v < chunks) wv[q] = ld_stream(w + (int64_t)v * 16);
        }
#pragma unroll
        for (int q = 0; q < kUnroll; ++q) {
            const int v = v0 + q * kWarp;
            if (v >= chunks) break;
            float wf[N];
            Vec<T>::unpack(wv[q], wf);
            const int grp = v * N / kScaleBlock;
            const float ws = kBlock ? block_weight_scale(w_scale, e, hidden_size, h, k_groups, grp) : 1.f;
#pragma unroll
            for (int c = 0; c < kMaxTok; ++c) {
                if (c < cnt) {
                    const float p = dot_chunk<T>(wf, ld_cached(inter + (int64_t)rows[c] * k_bytes + (int64_t)v * 16));
                    if (kBlock) {
                        acc[c] = fmaf(p, inter_scale[(int64_t)rows[c] * k_groups + grp] * ws, acc[c]);
                    } else {
                        acc[c] += p;
                    }
                }
            }
        }
    }
    const float ws = weight_scale(scale_mode, w_scale, e, (int64_t)e * hidden_size + h);
#pragma unroll
    for (int c = 0; c < kMaxTok; ++c) {
        if (c < cnt) {
            float sum = warp_sum(acc[c]);
            if (lane == c % kWarp) {
                const int a = rows[c];
                if (scaled_after_dot(scale_mode)) sum *= inter_scale[inter_scale_per_row ? a : 0] * ws;
                partial[(int64_t)a * hidden_size + h] = topk_weights[a] * sum;
            }
        }
    }
}
}  // namespace moespec_decode

#define MOESPEC_DECODE(SUFFIX, T, MAXTOK, BLOCK)                                                                  \
    extern "C" __global__ void __launch_bounds__(256) moe_decode_gemm1_##SUFFIX##_t##MAXTOK(                     \
        const char* x, int64_t x_row_bytes, const char* w13, int k_bytes, int inter_size, int top_k,             \
        const int32_t* sorted_rows, const int32_t* padded_offsets, const int32_t* counts, const int32_t* active, \
        const int32_t* meta, int scale_mode, const float* x_scale, int x_scale_per_row, const float* w_scale,    \
        void* inter, int inter_code, float* inter_amax, int amax_per_row) {                                      \
        moespec_decode::gemm1<T, MAXTOK, BLOCK>(x, x_row_bytes, w13, k_bytes, inter_size, top_k, sorted_rows,   \
                                                padded_offsets, counts, active, meta, scale_mode, x_scale,      \
                                                x_scale_per_row, w_scale, inter, inter_code, inter_amax,        \
                                                amax_per_row);                                                   \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(256) moe_decode_gemm2_##SUFFIX##_t##MAXTOK(                     \
        const char* inter, const char* w2, int k_bytes, int hidden_size, const int32_t* sorted_rows,             \
        const int32_t* padded_offsets, const int32_t* counts, const int32_t* active, const int32_t* meta,        \
        int scale_mode, const float* inter_scale, int inter_scale_per_row, const float* w_scale,                 \
        const float* topk_weights, float* partial) {                                                             \
        moespec_decode::gemm2<T, MAXTOK, BLOCK>(inter, w2, k_bytes, hidden_size, sorted_rows, padded_offsets,   \
                                                counts, active, meta, scale_mode, inter_scale,                  \
                                                inter_scale_per_row, w_scale, topk_weights, partial);           \
    }

#define MOESPEC_DECODE_ALL(SUFFIX, T, BLOCK) \
    MOESPEC_DECODE(SUFFIX, T, 1, BLOCK)      \
    MOESPEC_DECODE(SUFFIX, T, 4, BLOCK)      \
    MOESPEC_DECODE(SUFFIX, T, 8, BLOCK)

MOESPEC_FOR_EACH_VARIANT(MOESPEC_DECODE_ALL)

// out[t, h] = sum_j partial[(t * top_k + j) * H + h], j in slot order, rounded once to the output type.
// Launch: 256 threads, grid-stride over M * H / 2 (H is even).
extern "C" __global__ void __launch_bounds__(256)
moe_reduce_topk(const float* __restrict__ partial, int num_tokens, int hidden_size, int top_k, void* __restrict__ out,
                int out_code) {
    const int64_t pairs = (int64_t)num_tokens * hidden_size / 2;
    for (int64_t p = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; p < pairs; p += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = 2 * p;
        const int64_t t = i / hidden_size, h = i % hidden_size;
        float2 s = make_float2(0.f, 0.f);
        for (int j = 0; j < top_k; ++j) {
            const float2 v = *reinterpret_cast<const float2*>(partial + (t * top_k + j) * hidden_size + h);
            s.x += v.x;
            s.y += v.y;
        }
        if (out_code == moe::kBF16) {
            reinterpret_cast<__nv_bfloat162*>(out)[p] = __floats2bfloat162_rn(s.x, s.y);
        } else {
            reinterpret_cast<__half2*>(out)[p] = __floats2half2_rn(s.x, s.y);
        }
    }
}

// Writes value to n 16-byte words: the tuning tool's L2 flush between timed repetitions (a kernel, so it
// queues on the timed stream and keeps the GPU busy while the host queues the next repetition).
extern "C" __global__ void moe_fill_u32x4(uint4* __restrict__ p, int64_t n, uint32_t value) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        p[i] = make_uint4(value, value, value, value);
    }
}
