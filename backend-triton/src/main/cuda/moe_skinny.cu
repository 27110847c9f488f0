// The memory-bound path of triton's fused MoE (1 <= M <= 256): skinny tensor-core grouped GEMMs that stream each
// hit expert's weights from HBM once, with many bytes in flight per SM.
//
// Swap-AB: the WEIGHTS are the MMA's M side and the tokens its N side, so a token tile is only 8 * kNT rows (16, 32
// or 64: moe_align pads each expert to that) instead of the prefill kernel's 64, and a CTA streams 64 weight rows
// x 256 bytes of K per stage through a 4-stage cp.async pipeline (64 KiB of weights in flight per CTA, 1-2 CTAs per
// SM). Grid (token tiles, weight-row slices, K splits); token tiles run fastest, so the tiles of one expert read the
// same weight slice at the same time and every tile after the first finds it in L2.
//   moe_skinny_gemm1_*_nN   inter[a, n] = silu(w13[e, n] . x[t]) * (w13[e, I + n] . x[t]). Each warp's m16 tile
//                           holds 8 gate rows and the 8 up rows of the same n, so gate and up of one output land
//                           in the same thread (c0/c2, c1/c3) and SwiGLU is fused. 32 outputs n per CTA.
//   moe_skinny_gemm2_*_nN   partial[a * S + s, h] = w_a * (w2[e, h] . inter[a]) over K split s of S (grid z),
//                           64 rows h per CTA; moe_reduce_topk with top_k * S slots sums splits and slots.
// mma.sync m16n8k16 (bf16/f16) or m16n8k32 (e4m3, sm_89+), fp32 accumulators; FP8 scales as in moe_gemm.cu
// (per-tensor/per-channel after the dot; block-128: each 128-wide K group into a second tile, then scaled).
#include "moe_mma_sync.cuh"

namespace moespec_skinny {
using namespace moe;

constexpr int kRows = 64;           // weight rows per CTA: 4 warps x one m16 tile
constexpr int kKT = 256;            // bytes of K per pipeline stage
constexpr int kChunks = kKT / 16;   // 16-byte chunks per row per stage
constexpr int kStages = 4;
constexpr int kThreads = 128;
constexpr int kWTile = kRows * kKT;  // 16 KiB

template <int kNT> struct Tile {
    static constexpr int kTok = 8 * kNT;
    static constexpr int kStage = kWTile + kTok * kKT;
    static constexpr int kSmem = kStages * kStage;  // 80 / 96 / 128 KiB for kNT = 2 / 4 / 8
};

// 16-byte chunk c of row r: XOR with r % 8 so that the 8 rows an ldmatrix phase reads hit 8 distinct bank groups.
__device__ __forceinline__ int swz(int r, int c) { return r * kKT + ((c ^ (r & 7)) << 4); }

template <typename T, int kNT, bool kGemm1, bool kBlock>
__device__ __forceinline__ void skinny(const char* __restrict__ a_src, int64_t a_row_bytes, const char* __restrict__ w,
                                       int k_bytes, int n_out, int top_k, const int32_t* __restrict__ sorted_rows,
                                       const int32_t* __restrict__ block_expert, const int32_t* __restrict__ meta,
                                       int scale_mode, const float* __restrict__ a_scale, int a_scale_per_row,
                                       const float* __restrict__ w_scale, void* __restrict__ inter, int inter_code,
                                       float* __restrict__ inter_amax, int amax_per_row,
                                       const float* __restrict__ topk_weights, float* __restrict__ partial) {
    using Cfg = Tile<kNT>;
    constexpr int kTok = Cfg::kTok;
    extern __shared__ __align__(128) uint8_t smem[];
    const int tile = blockIdx.x;
    if (tile >= meta[1]) return;
    const int e = block_expert[tile];
    const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp;
    // GEMM 1: outputs n0 .. n0 + 31; GEMM 2: rows n0 .. n0 + 63.
    const int n0 = blockIdx.y * (kGemm1 ? kRows / 2 : kRows);
    const int64_t expert_rows = kGemm1 ? (int64_t)e * 2 * n_out : (int64_t)e * n_out;


    // The weight row (within the expert) behind CTA-local row r, or -1 past N.
    auto weight_row = [&](int r) {
        if (kGemm1) {
            const int n = n0 + (r / 16) * 8 + (r % 8);
            return n < n_out ? ((r % 16) < 8 ? n : n_out + n) : -1;
        }
        const int n = n0 + r;
        return n < n_out ? n : -1;
    };

    // This thread's cp.async sources: 8 weight chunks and kNT token chunks per stage (fixed rows, moving K).
    constexpr int kWLoads = kRows * kChunks / kThreads, kXLoads = kTok * kChunks / kThreads;
    const char* w_ptr[kWLoads];
    bool w_ok[kWLoads];
#pragma unroll
    for (int i = 0; i < kWLoads; ++i) {
        const int idx = tid + i * kThreads, r = idx / kChunks;
        const int row = weight_row(r);
        w_ok[i] = row >= 0;
        w_ptr[i] = w + (expert_rows + (w_ok[i] ? row : 0)) * k_bytes + (idx % kChunks) * 16;
    }
    const char* x_ptr[kXLoads];
    bool x_ok[kXLoads];
#pragma unroll
    for (int i = 0; i < kXLoads; ++i) {
        const int idx = tid + i * kThreads, r = idx / kChunks;
        const int a = sorted_rows[tile * kTok + r];
        x_ok[i] = a >= 0;
        x_ptr[i] = a_src + (int64_t)(x_ok[i] ? (kGemm1 ? a / top_k : a) : 0) * a_row_bytes + (idx % kChunks) * 16;
    }

    // K range of this split (grid z), in whole stages.
    const int k_tiles_all = (k_bytes + kKT - 1) / kKT;
    const int per_split = (k_tiles_all + gridDim.z - 1) / gridDim.z;
    const int kt0 = blockIdx.z * per_split;
    const int nk = max(0, min(k_tiles_all, kt0 + per_split) - kt0);

    const uint32_t smem_base = (uint32_t)__cvta_generic_to_shared(smem);
    auto load = [&](int kt, int stage) {
        const uint32_t sw = smem_base + stage * Cfg::kStage, sx = sw + kWTile;
        const int koff = kt * kKT;
#pragma unroll
        for (int i = 0; i < kWLoads; ++i) {
            const int idx = tid + i * kThreads, c = idx % kChunks;
            const bool ok = w_ok[i] && koff + c * 16 < k_bytes;
            cp_async16(sw + swz(idx / kChunks, c), ok ? w_ptr[i] + koff : w, ok);
        }
#pragma unroll
        for (int i = 0; i < kXLoads; ++i) {
            const int idx = tid + i * kThreads, c = idx % kChunks;
            const bool ok = x_ok[i] && koff + c * 16 < k_bytes;
            cp_async16(sx + swz(idx / kChunks, c), ok ? x_ptr[i] + koff : a_src, ok);
        }
    };

    float acc[kNT][4], blk[kNT][4];
#pragma unroll
    for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[j][q] = blk[j][q] = 0.f;

    // The assignment behind each of this thread's token columns (j * 8 + (lane % 4) * 2 + q), -1 for padding.
    int col_a[kNT][2];
#pragma unroll
    for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int q = 0; q < 2; ++q) col_a[j][q] = sorted_rows[tile * kTok + j * 8 + (lane % 4) * 2 + q];
    // This thread's two accumulator rows (lane / 4 and + 8 of the warp's m16 tile), as rows of the expert.
    const int row_lo = weight_row(warp * 16 + lane / 4), row_hi = weight_row(warp * 16 + lane / 4 + 8);

    // Block scales: [E, ceil(rows / 128), k_groups] for weights, [activation rows, k_groups] for activations.
    constexpr int kStepsPerGroup = kScaleBlock * (int)sizeof(T) / 32;
    const int k_groups = (k_bytes / (int)sizeof(T) + kScaleBlock - 1) / kScaleBlock;
    const int w_rows = kGemm1 ? 2 * n_out : n_out;
    const int64_t w_blk_base = (int64_t)e * ((w_rows + kScaleBlock - 1) / kScaleBlock);
    auto flush_group = [&](int g) {
        if (g >= k_groups) return;
        const float ws_lo = row_lo < 0 ? 0.f : w_scale[(w_blk_base + row_lo / kScaleBlock) * k_groups + g];
        const float ws_hi = row_hi < 0 ? 0.f : w_scale[(w_blk_base + row_hi / kScaleBlock) * k_groups + g];
#pragma unroll
        for (int j = 0; j < kNT; ++j)
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const int a = col_a[j][q];
                const float xs = a < 0 ? 0.f : a_scale[(int64_t)(kGemm1 ? a / top_k : a) * k_groups + g];
                acc[j][q] = fmaf(blk[j][q], xs * ws_lo, acc[j][q]);
                acc[j][q + 2] = fmaf(blk[j][q + 2], xs * ws_hi, acc[j][q + 2]);
                blk[j][q] = blk[j][q + 2] = 0.f;
            }
    };

#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (s < nk) load(kt0 + s, s);
        cp_async_commit();
    }
    for (int it = 0; it < nk; ++it) {
        cp_async_wait<kStages - 2>();
        __syncthreads();
        const int next = it + kStages - 1;
        if (next < nk) load(kt0 + next, next % kStages);
        cp_async_commit();
        const uint32_t sw = smem_base + (it % kStages) * Cfg::kStage, sx = sw + kWTile;
#pragma unroll
        for (int ks = 0; ks < kKT / 32; ++ks) {
            uint32_t af[4], bf[kNT][2];
            ldmatrix_x4(af, sw + swz(warp * 16 + lane % 16, ks * 2 + lane / 16));
#pragma unroll
            for (int j = 0; j < kNT; j += 2) {
                uint32_t t[4];
                ldmatrix_x4(t, sx + swz((j + lane / 16) * 8 + lane % 8, ks * 2 + (lane / 8) % 2));
                bf[j][0] = t[0];
                bf[j][1] = t[1];
                bf[j + 1][0] = t[2];
                bf[j + 1][1] = t[3];
            }
#pragma unroll
            for (int j = 0; j < kNT; ++j) mma<T>(kBlock ? blk[j] : acc[j], af, bf[j]);
            if (kBlock && (ks + 1) % kStepsPerGroup == 0) {
                flush_group(((kt0 + it) * kKT + ks * 32) / (kScaleBlock * (int)sizeof(T)));
            }
        }
    }
    cp_async_wait<0>();

    // Epilogue. acc[j][q]: weight row lane/4 (q < 2) or lane/4 + 8 (q >= 2) of the warp's tile, token column
    // j * 8 + (lane % 4) * 2 + (q % 2).
    if (kGemm1) {
        const int n = n0 + warp * 8 + lane / 4;
        const bool n_ok = n < n_out;
        const float wsg = n_ok ? weight_scale(scale_mode, w_scale, e, expert_rows + n) : 0.f;
        const float wsu = n_ok ? weight_scale(scale_mode, w_scale, e, expert_rows + n_out + n) : 0.f;
        float tensor_max = 0.f;
#pragma unroll
        for (int j = 0; j < kNT; ++j)
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const int a = col_a[j][q];
                float h = 0.f;
                if (a >= 0 && n_ok) {
                    float g = acc[j][q], u = acc[j][q + 2];
                    if (scaled_after_dot(scale_mode)) {
                        const float xs = a_scale[a_scale_per_row ? a / top_k : 0];
                        g *= xs * wsg;
                        u *= xs * wsu;
                    }
                    h = swiglu(g, u);
                    store_from_float(inter, inter_code, (int64_t)a * n_out + n, h);
                }
                // FP8 (not block-128, whose group maxima come from the quantisation kernel): the maximum over
                // this warp's 8 outputs of the column, lanes with the same lane % 4 share the column.
                if (inter_code == kF32 && !kBlock) {
                    float mx = fabsf(h);
                    if (amax_per_row) {
                        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
                        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
                        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
                        if (lane < 4 && a >= 0) atomic_max_nonneg(&inter_amax[a], mx);
                    } else {
                        tensor_max = fmaxf(tensor_max, mx);
                    }
                }
            }
        if (inter_code == kF32 && !kBlock && !amax_per_row) {
            tensor_max = warp_max(tensor_max);
            if (lane == 0) atomic_max_nonneg(&inter_amax[0], tensor_max);
        }
    } else {
        const int splits = gridDim.z, s = blockIdx.z;
        const float ws_lo = row_lo < 0 ? 0.f : weight_scale(scale_mode, w_scale, e, expert_rows + row_lo);
        const float ws_hi = row_hi < 0 ? 0.f : weight_scale(scale_mode, w_scale, e, expert_rows + row_hi);
#pragma unroll
        for (int j = 0; j < kNT; ++j)
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const int a = col_a[j][q];
                if (a < 0) continue;
                const float xs = scaled_after_dot(scale_mode) ? a_scale[a_scale_per_row ? a : 0] : 1.f;
                const float tw = topk_weights[a];
                float* dst = partial + ((int64_t)a * splits + s) * n_out;
                if (row_lo >= 0) dst[row_lo] = tw * (acc[j][q] * (xs * ws_lo));
                if (row_hi >= 0) dst[row_hi] = tw * (acc[j][q + 2] * (xs * ws_hi));
            }
    }
}
}  // namespace moespec_skinny

// Launch: 128 threads, moespec_skinny::Tile<N>::kSmem bytes of dynamic shared memory (opt-in above 48 KiB),
// grid (token-tile bound, ceil(I / 32) for GEMM 1 or ceil(H / 64) for GEMM 2, K splits; GEMM 1 takes 1); tiles past
// meta[1] exit. moe_align must have padded experts to 8 * N rows.
#define MOESPEC_SKINNY(SUFFIX, T, NT, BLOCK)                                                                          \
    extern "C" __global__ void __launch_bounds__(128) moe_skinny_gemm1_##SUFFIX##_n##NT(                             \
        const char* x, int64_t x_row_bytes, const char* w13, int k_bytes, int inter_size, int top_k,                \
        const int32_t* sorted_rows, const int32_t* block_expert, const int32_t* meta, int scale_mode,               \
        const float* x_scale, int x_scale_per_row, const float* w_scale, void* inter, int inter_code,               \
        float* inter_amax, int amax_per_row) {                                                                      \
        moespec_skinny::skinny<T, NT, true, BLOCK>(x, x_row_bytes, w13, k_bytes, inter_size, top_k, sorted_rows,    \
                                                   block_expert, meta, scale_mode, x_scale, x_scale_per_row,        \
                                                   w_scale, inter, inter_code, inter_amax, amax_per_row, nullptr,   \
                                                   nullptr);                                                        \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(128) moe_skinny_gemm2_##SUFFIX##_n##NT(                             \
        const char* inter, int64_t inter_row_bytes, const char* w2, int k_bytes, int hidden_size,                   \
        const int32_t* sorted_rows, const int32_t* block_expert, const int32_t* meta, int scale_mode,               \
        const float* inter_scale, int inter_scale_per_row, const float* w_scale, const float* topk_weights,         \
        float* partial) {                                                                                           \
        moespec_skinny::skinny<T, NT, false, BLOCK>(inter, inter_row_bytes, w2, k_bytes, hidden_size, 1,           \
                                                    sorted_rows, block_expert, meta, scale_mode, inter_scale,       \
                                                    inter_scale_per_row, w_scale, nullptr, 0, nullptr, 0,           \
                                                    topk_weights, partial);                                         \
    }

#define MOESPEC_SKINNY_ALL(SUFFIX, T, BLOCK) \
    MOESPEC_SKINNY(SUFFIX, T, 2, BLOCK)      \
    MOESPEC_SKINNY(SUFFIX, T, 4, BLOCK)      \
    MOESPEC_SKINNY(SUFFIX, T, 8, BLOCK)

MOESPEC_FOR_EACH_VARIANT(MOESPEC_SKINNY_ALL)
