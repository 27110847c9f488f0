// The prefill (large-M) path of triton's fused MoE: block-aligned grouped GEMMs on tensor cores, the
// algorithm of vLLM's Triton fused_moe. moe_align has sorted the (token, slot) assignments by expert and
// padded every expert to a multiple of kBM rows, so each kBM-row tile multiplies by ONE expert's weights.
//   moe_gemm1_*   inter[a, n] = silu(x[t] . w13[e, n]) * (x[t] . w13[e, I + n])   (gate and up columns of
//                 the same n land in the same thread's accumulators, so SwiGLU is fused in the epilogue)
//   moe_gemm2_*   partial[a, h] = w_a * (inter[a] . w2[e, h])                     (then moe_reduce_topk)
// CTA tile kBM x kBN x 64 bytes of K, 4 warps of 32 x 64, mma.sync m16n8k16 (bf16/f16) or m16n8k32 (e4m3,
// sm_89+) with fp32 accumulators, a 3-stage cp.async pipeline into XOR-swizzled shared memory read by
// ldmatrix. bf16 and e4m3 rows use the same byte layout in the fragments, so one kernel serves both.
// FP8 scales (activation per tensor or per row, weight per expert or per row) multiply in the epilogue; with
// 128x128 block scales (kBlock) the MMAs of each 128-wide K group accumulate into a second fp32 tile that is
// scaled by (activation scale of the row, K group) x (weight scale of the column's 128-row block, K group) and
// added to the result, so e4m3 operands (native e4m3, or e4m3 values held exactly in fp16 on sm_80-88) give the
// fp32 dot of the dequantised values, as the CPU reference computes it.
#include "moe_mma_sync.cuh"

namespace moespec_gemm {
using namespace moe;

constexpr int kBM = 64, kBN = 128, kBKBytes = 64, kStages = 3, kThreads = 128, kGroupM = 8;
constexpr int kATileBytes = kBM * kBKBytes, kBTileBytes = kBN * kBKBytes;
constexpr int kStageBytes = kATileBytes + kBTileBytes;
constexpr int kSmemBytes = kStages * kStageBytes;  // 36 KiB: under the 48 KiB default

// 16-byte chunk c (0..3) of tile row r, XOR-swizzled so that ldmatrix's 8 rows hit 8 distinct bank groups.
__device__ __forceinline__ int swizzle(int r, int c) { return r * kBKBytes + ((c ^ ((r >> 1) & 3)) << 4); }

template <typename T, bool kGemm1, bool kBlock>
__device__ __forceinline__ void grouped_gemm(
    const char* __restrict__ a_src, int64_t a_row_bytes, const char* __restrict__ w, int k_bytes, int n_out,
    int top_k, int m_tiles_bound, const int32_t* __restrict__ sorted_rows, const int32_t* __restrict__ block_expert,
    const int32_t* __restrict__ meta, int scale_mode, const float* __restrict__ a_scale, int a_scale_per_row,
    const float* __restrict__ w_scale, void* __restrict__ inter, int inter_code, float* __restrict__ inter_amax,
    int amax_per_row, const float* __restrict__ topk_weights, float* __restrict__ partial) {
    extern __shared__ __align__(128) uint8_t smem[];
    // Grouped rasterisation: kGroupM M-tiles share each weight tile while it is in L2.
    const int out_cols = kGemm1 ? kBN / 2 : kBN;
    const int n_tiles = (n_out + out_cols - 1) / out_cols;
    const int pid = blockIdx.x, in_group = kGroupM * n_tiles;
    const int first_m = pid / in_group * kGroupM;
    const int group_m = min(m_tiles_bound - first_m, kGroupM);
    const int tile_m = first_m + (pid % in_group) % group_m;
    const int tile_n = (pid % in_group) / group_m;
    if (tile_m >= meta[1]) return;
    const int e = block_expert[tile_m];
    const int n0 = tile_n * out_cols;
    const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp;
    const int warp_m = warp % 2, warp_n = warp / 2;
    const int64_t expert_rows = kGemm1 ? (int64_t)e * 2 * n_out : (int64_t)e * n_out;

    // This thread's cp.async sources: 2 A chunks, 4 B chunks per stage (fixed rows, moving K).
    const char* a_ptr[2];
    bool a_ok[2];
    int a_dst[2], a_chunk[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int idx = tid + i * kThreads, r = idx / 4;
        a_chunk[i] = idx % 4;
        a_dst[i] = swizzle(r, a_chunk[i]);
        const int a = sorted_rows[tile_m * kBM + r];
        a_ok[i] = a >= 0;
        a_ptr[i] = a_src + (int64_t)(a_ok[i] ? (kGemm1 ? a / top_k : a) : 0) * a_row_bytes;
    }
    const char* b_ptr[4];
    bool b_ok[4];
    int b_dst[4], b_chunk[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int idx = tid + i * kThreads, r = idx / 4;
        b_chunk[i] = idx % 4;
        b_dst[i] = swizzle(r, b_chunk[i]);
        int row;
        if (kGemm1) {
            const int n = n0 + (r % (kBN / 2));
            b_ok[i] = n < n_out;
            row = (r < kBN / 2 ? 0 : n_out) + n;
        } else {
            row = n0 + r;
            b_ok[i] = row < n_out;
        }
        b_ptr[i] = w + (expert_rows + (b_ok[i] ? row : 0)) * k_bytes;
    }
    const uint32_t smem_base = (uint32_t)__cvta_generic_to_shared(smem);
    const int k_tiles = (k_bytes + kBKBytes - 1) / kBKBytes;
    auto load_tile = [&](int kt, int stage) {
        const uint32_t sa = smem_base + stage * kStageBytes, sb = sa + kATileBytes;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int off = kt * kBKBytes + a_chunk[i] * 16;
            const bool ok = a_ok[i] && off < k_bytes;
            cp_async16(sa + a_dst[i], ok ? a_ptr[i] + off : a_src, ok);
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int off = kt * kBKBytes + b_chunk[i] * 16;
            const bool ok = b_ok[i] && off < k_bytes;
            cp_async16(sb + b_dst[i], ok ? b_ptr[i] + off : w, ok);
        }
    };

    float acc[2][8][4];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
            for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.f;

    auto b_row = [&](int j) {
        return kGemm1 ? (j < 4 ? warp_n * 32 + j * 8 : kBN / 2 + warp_n * 32 + (j - 4) * 8) : warp_n * 64 + j * 8;
    };

    // Block scales: this thread's 4 activation-scale rows (-1: padding) and 8 weight 128-row blocks (-1: past N).
    constexpr int kTilesPerGroup = kScaleBlock * (int)sizeof(T) / kBKBytes;
    const int elems = k_bytes / (int)sizeof(T);
    const int k_groups = (elems + kScaleBlock - 1) / kScaleBlock;
    float blk[2][8][4];
    int s_row[2][2], w_blk[8];
    if (kBlock) {
        const int w_rows = kGemm1 ? 2 * n_out : n_out;
        const int64_t w_blk_base = (int64_t)e * ((w_rows + kScaleBlock - 1) / kScaleBlock);
#pragma unroll
        for (int mf = 0; mf < 2; ++mf)
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int a = sorted_rows[tile_m * kBM + warp_m * 32 + mf * 16 + lane / 4 + half * 8];
                s_row[mf][half] = a < 0 ? -1 : (kGemm1 ? a / top_k : a);
            }
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            int col, row;
            if (kGemm1) {
                col = n0 + warp_n * 32 + (j % 4) * 8 + (lane % 4) * 2;
                row = (j < 4 ? 0 : n_out) + col;
            } else {
                col = row = n0 + warp_n * 64 + j * 8 + (lane % 4) * 2;
            }
            w_blk[j] = col < n_out ? (int)(w_blk_base + row / kScaleBlock) : -1;
        }
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j)
#pragma unroll
                for (int q = 0; q < 4; ++q) blk[i][j][q] = 0.f;
    }
    float (&dst)[2][8][4] = kBlock ? blk : acc;

#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (s < k_tiles) load_tile(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
        cp_async_wait<kStages - 2>();
        __syncthreads();
        const int next = kt + kStages - 1;
        if (next < k_tiles) load_tile(next, next % kStages);
        cp_async_commit();
        const uint32_t sa = smem_base + (kt % kStages) * kStageBytes, sb = sa + kATileBytes;
#pragma unroll
        for (int ks = 0; ks < 2; ++ks) {
            uint32_t af[2][4], bf[8][2];
#pragma unroll
            for (int mf = 0; mf < 2; ++mf) {
                const int r = warp_m * 32 + mf * 16 + lane % 16;
                ldmatrix_x4(af[mf], sa + swizzle(r, ks * 2 + lane / 16));
            }
#pragma unroll
            for (int j = 0; j < 8; j += 2) {
                const int r = b_row(j + lane / 16) + lane % 8;
                uint32_t t[4];
                ldmatrix_x4(t, sb + swizzle(r, ks * 2 + (lane / 8) % 2));
                bf[j][0] = t[0];
                bf[j][1] = t[1];
                bf[j + 1][0] = t[2];
                bf[j + 1][1] = t[3];
            }
#pragma unroll
            for (int mf = 0; mf < 2; ++mf)
#pragma unroll
                for (int j = 0; j < 8; ++j) mma<T>(dst[mf][j], af[mf], bf[j]);
        }
        if (kBlock && ((kt + 1) % kTilesPerGroup == 0 || kt + 1 == k_tiles)) {
            const int g = kt / kTilesPerGroup;
            float ws[8];
#pragma unroll
            for (int j = 0; j < 8; ++j) ws[j] = w_blk[j] < 0 ? 0.f : w_scale[(int64_t)w_blk[j] * k_groups + g];
#pragma unroll
            for (int mf = 0; mf < 2; ++mf)
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                    const int sr = s_row[mf][half];
                    const float xs = sr < 0 ? 0.f : a_scale[(int64_t)sr * k_groups + g];
#pragma unroll
                    for (int j = 0; j < 8; ++j)
#pragma unroll
                        for (int q = 0; q < 2; ++q) {
                            acc[mf][j][half * 2 + q] = fmaf(blk[mf][j][half * 2 + q], xs * ws[j], acc[mf][j][half * 2 + q]);
                            blk[mf][j][half * 2 + q] = 0.f;
                        }
                }
        }
    }
    cp_async_wait<0>();

    // Epilogue. acc[mf][j][q]: row warp_m*32 + mf*16 + lane/4 (+8 for q >= 2), column pair (lane%4)*2.
#pragma unroll
    for (int mf = 0; mf < 2; ++mf) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int r = warp_m * 32 + mf * 16 + lane / 4 + half * 8;
            const int a = sorted_rows[tile_m * kBM + r];
            float row_max = 0.f;
            if (kGemm1) {
                const float xs = !scaled_after_dot(scale_mode) || a < 0 ? 1.f : a_scale[a_scale_per_row ? a / top_k : 0];
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int n = n0 + warp_n * 32 + j * 8 + (lane % 4) * 2;
                    if (a < 0 || n >= n_out) continue;
                    float h[2];
#pragma unroll
                    for (int q = 0; q < 2; ++q) {
                        float g = acc[mf][j][half * 2 + q], u = acc[mf][j + 4][half * 2 + q];
                        if (scaled_after_dot(scale_mode)) {
                            g *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + n + q);
                            u *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + n_out + n + q);
                        }
                        h[q] = swiglu(g, u);
                    }
                    const int64_t at = (int64_t)a * n_out + n;
                    if (inter_code == kBF16) {
                        *reinterpret_cast<__nv_bfloat162*>(reinterpret_cast<__nv_bfloat16*>(inter) + at) =
                            __floats2bfloat162_rn(h[0], h[1]);
                    } else if (inter_code == kF16) {
                        *reinterpret_cast<__half2*>(reinterpret_cast<__half*>(inter) + at) = __floats2half2_rn(h[0], h[1]);
                    } else {
                        *reinterpret_cast<float2*>(reinterpret_cast<float*>(inter) + at) = make_float2(h[0], h[1]);
                        row_max = fmaxf(row_max, fmaxf(fabsf(h[0]), fabsf(h[1])));
                    }
                }
                if (inter_code == kF32) {
                    // the 4 lanes of a quad share the row; a per-tensor max reduces over the whole warp below
                    row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 1));
                    row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 2));
                    if (amax_per_row) {
                        if (lane % 4 == 0 && a >= 0) atomic_max_nonneg(&inter_amax[a], row_max);
                    } else {
                        row_max = warp_max(row_max);
                        if (lane == 0) atomic_max_nonneg(&inter_amax[0], row_max);
                    }
                }
            } else {
                if (a < 0) continue;
                const float xs = !scaled_after_dot(scale_mode) ? 1.f : a_scale[a_scale_per_row ? a : 0];
                const float tw = topk_weights[a];
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const int hcol = n0 + warp_n * 64 + j * 8 + (lane % 4) * 2;
                    if (hcol >= n_out) continue;
                    float v0 = acc[mf][j][half * 2], v1 = acc[mf][j][half * 2 + 1];
                    if (scaled_after_dot(scale_mode)) {
                        v0 *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + hcol);
                        v1 *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + hcol + 1);
                    }
                    *reinterpret_cast<float2*>(partial + (int64_t)a * n_out + hcol) = make_float2(tw * v0, tw * v1);
                }
            }
        }
    }
}
}  // namespace moespec_gemm

// Launch: 128 threads, moespec_gemm::kSmemBytes (36 KiB) of dynamic shared memory,
// grid = m_tiles_bound * ceil(n_out / (64 for GEMM 1, 128 for GEMM 2)); tiles past meta[1] exit.
#define MOESPEC_GEMM(SUFFIX, T, BLOCK)                                                                                    \
    extern "C" __global__ void __launch_bounds__(128) moe_gemm1_##SUFFIX(                                          \
        const char* x, int64_t x_row_bytes, const char* w13, int k_bytes, int inter_size, int top_k,              \
        int m_tiles_bound, const int32_t* sorted_rows, const int32_t* block_expert, const int32_t* meta,          \
        int scale_mode, const float* x_scale, int x_scale_per_row, const float* w_scale, void* inter,             \
        int inter_code, float* inter_amax, int amax_per_row) {                                                    \
        moespec_gemm::grouped_gemm<T, true, BLOCK>(x, x_row_bytes, w13, k_bytes, inter_size, top_k, m_tiles_bound,       \
                                            sorted_rows, block_expert, meta, scale_mode, x_scale,                 \
                                            x_scale_per_row, w_scale, inter, inter_code, inter_amax,              \
                                            amax_per_row, nullptr, nullptr);                                      \
    }                                                                                                             \
    extern "C" __global__ void __launch_bounds__(128) moe_gemm2_##SUFFIX(                                          \
        const char* inter, int64_t inter_row_bytes, const char* w2, int k_bytes, int hidden_size,                 \
        int m_tiles_bound, const int32_t* sorted_rows, const int32_t* block_expert, const int32_t* meta,          \
        int scale_mode, const float* inter_scale, int inter_scale_per_row, const float* w_scale,                  \
        const float* topk_weights, float* partial) {                                                              \
        moespec_gemm::grouped_gemm<T, false, BLOCK>(inter, inter_row_bytes, w2, k_bytes, hidden_size, 1, m_tiles_bound,  \
                                             sorted_rows, block_expert, meta, scale_mode, inter_scale,            \
                                             inter_scale_per_row, w_scale, nullptr, 0, nullptr, 0, topk_weights,  \
                                             partial);                                                            \
    }

MOESPEC_FOR_EACH_VARIANT(MOESPEC_GEMM)
