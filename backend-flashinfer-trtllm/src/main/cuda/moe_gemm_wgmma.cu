// Grouped FP8 GEMMs of flashinfer_trtllm's MoE for prefill on Hopper: warpgroup MMA (wgmma, sm_90a; QGMMA in
// the SASS) with 128-row tiles. The mma.sync kernels of moe_gemm.cu stay for sm_89, for decode (16-row tiles) and
// as the fallback; the host picks these only on an sm_90 device.
//
// CTA: 256 threads = 2 warpgroups, each 64 of the BM = 128 padded rows against a 128-row B tile
// (wgmma.m64n128k32, both operands from shared memory, K-major). K advances in tiles of 128 = the scale group
// through a 6-stage cp.async pipeline; the stage loader of moe_gemm_common.cuh writes 128-byte rows XOR-swizzled
// by row % 8 into 1024-byte-aligned tiles, which is exactly wgmma's 128B-swizzle K-major layout, so the same
// loader feeds both paths.
//
// fp8_block_128: every 128-wide K tile goes into a scratch accumulator (4 wgmmas, the first with scale-d = 0),
// which is then promoted into the fp32 result with (activation scale of the row) x (weight block scale), as
// DeepGEMM does: the fp32 partial is scaled once per K block, in registers, in the main loop.
//
// GEMM 1 covers 128 intermediate columns (one activation group, so the block re-quantisation stays in the
// epilogue) in two passes of 64: pass p's B tile is 64 gate + 64 up rows interleaved by 8, so SwiGLU happens in
// registers; pass 0's 32 SwiGLU values per thread wait in registers for pass 1, then each row's amax over the 128
// columns is a reduction over the 4 threads of a quad (a wgmma row lives in one quad).
// GEMM 2: the epilogue stores fp32 partial rows per (split, entry), as moe_gemm.cu's (no atomics; fi_finalize_out
// reduces them in a fixed order).

#include "wgmma_ops.cuh"


namespace moespec_fi {
namespace wg {

constexpr int kBM = 128;                               // 2 warpgroups x 64 rows
constexpr int kBN = 128;                               // B rows per wgmma tile
constexpr int kStages = 6;
constexpr int kTileBytes = kBM * kBK;                  // A (or B) tile: 16 KiB
constexpr int kScaleOffset = 2 * kTileBytes;           // activation scales [128], then 2 weight scales
constexpr int kStageBytes = 2 * kTileBytes + 1024;     // stays a multiple of the 1024-byte swizzle atom
constexpr int kSmemBytes = kStages * kStageBytes + 1024;  // + slack to align the base to 1024
static_assert(kStageBytes % 1024 == 0 && kScaleOffset + kBM * 4 + 8 <= kStageBytes, "stage layout");
// the loader's layout (Tile<128, 128>: [A][B][scales]) must be the one described above
static_assert(Tile<kBM, kBN>::kABytes == kTileBytes && Tile<kBM, kBN>::kBBytes == kTileBytes, "loader layout");

// acc[64] (this thread's part of its warpgroup's 64 x 128 tile) += A[kBM rows] . B[kBN rows]^T over K tiles
// [kt_begin, kt_end). Fragment j*4 + i holds row (lane/4 + 8*(i/2)) of the warp's 16, column 8j + 2*(lane%4) + i%2.
template <bool BLOCK>
__device__ __forceinline__ void run(uint8_t* smem, int kt_begin, int kt_end, int K, const Operands<kBM>& op,
                                    float (&acc)[64]) {
    using Loader = MainLoop<kBM, kBN, kStages, BLOCK>;
    const int tid = threadIdx.x, wgi = tid / 128, lane = tid % 32;
    const int r_lo = wgi * 64 + ((tid % 128) / 32) * 16 + lane / 4;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (kt_begin + s < kt_end) Loader::load_stage(smem + s * kStageBytes, kt_begin + s, K, op);
        cp_async_commit();
    }
    float part[64];
#pragma unroll
    for (int r = 0; r < 64; ++r) part[r] = 0.f;
    for (int kt = kt_begin; kt < kt_end; ++kt) {
        cp_async_wait<kStages - 2>();
        fence_proxy_async();
        __syncthreads();  // the stage is complete; every warpgroup finished reading the one refilled next
        {
            const int nk = kt + kStages - 1;
            if (nk < kt_end) Loader::load_stage(smem + ((nk - kt_begin) % kStages) * kStageBytes, nk, K, op);
            cp_async_commit();
        }
        uint8_t* stage = smem + ((kt - kt_begin) % kStages) * kStageBytes;
        const uint32_t sa = smem_u32(stage) + wgi * (kTileBytes / 2), sb = smem_u32(stage) + kTileBytes;
        float (&dst)[64] = BLOCK ? part : acc;
#pragma unroll
        for (int r = 0; r < 64; ++r) fence_operand(dst[r]);
        wgmma_arrive();
#pragma unroll
        for (int ks = 0; ks < kBK / 32; ++ks)
            mma_m64n128k32(dst, desc(sa + ks * 32), desc(sb + ks * 32), BLOCK ? ks : 1);
        wgmma_commit_wait();
#pragma unroll
        for (int r = 0; r < 64; ++r) fence_operand(dst[r]);
        if constexpr (BLOCK) {
            const float* sc = reinterpret_cast<const float*>(stage + kScaleOffset);
            const float a_lo = sc[r_lo], a_hi = sc[r_lo + 8], w0 = sc[kBM], w1 = sc[kBM + 1];
#pragma unroll
            for (int j = 0; j < 16; ++j) {
                // GEMM 1: even n8 groups are gate rows (scale w0), odd are up rows (w1); GEMM 2: w0 == w1
                const float w = (j & 1) ? w1 : w0;
                acc[4 * j + 0] += part[4 * j + 0] * (a_lo * w);
                acc[4 * j + 1] += part[4 * j + 1] * (a_lo * w);
                acc[4 * j + 2] += part[4 * j + 2] * (a_hi * w);
                acc[4 * j + 3] += part[4 * j + 3] * (a_hi * w);
            }
        }
    }
    cp_async_wait<0>();
    __syncthreads();  // a following pass refills the stages
}

}  // namespace wg
}  // namespace moespec_fi

// GEMM 1 + SwiGLU (+ block-128 re-quantisation) with wgmma. One CTA: 128 padded rows x 128 intermediate columns,
// in two passes of 64. Grid: (max_m_blocks * ceil(I / 128)). Arguments as fi_gemm1_* of moe_gemm.cu.
template <bool BLOCK>
__device__ __forceinline__ void fi_gemm1_wg_impl(const uint8_t* __restrict__ a, const float* __restrict__ a_scale,
                                                 const uint8_t* __restrict__ w, const float* __restrict__ w_scale,
                                                 const int* __restrict__ sorted_rows,
                                                 const int* __restrict__ block_expert, const int* __restrict__ meta,
                                                 int topk, int H, int I, void* __restrict__ inter,
                                                 float* __restrict__ inter_scale) {
#ifdef FI_WGMMA
    using namespace moespec_fi;
    using namespace moespec_fi::wg;
    extern __shared__ __align__(1024) uint8_t wg_smem[];
    uint8_t* smem = wg_smem + ((1024 - (smem_u32(wg_smem) & 1023)) & 1023);
    __shared__ float warp_amax[kThreads / 32];
    const int n_tiles = (I + 127) / 128;
    int m_blk, n_blk;
    if (!tile_of(meta[0], n_tiles, m_blk, n_blk)) {
        if (!BLOCK && threadIdx.x == 0) inter_scale[blockIdx.x] = 0.f;  // this CTA's amax partial
        return;
    }
    const int expert = block_expert[m_blk];
    const int m0 = m_blk * kBM, i0 = n_blk * 128;
    const int kgroups = (H + kBK - 1) / kBK;
    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

    Operands<kBM> op;
#pragma unroll
    for (int i = 0; i < Operands<kBM>::kAPer; ++i) {
        const int s = sorted_rows[m0 + tid / 8 + 32 * i];
        op.a_src[i] = s >= 0 ? a + (int64_t)(s / topk) * H : nullptr;
    }
    op.as_row = nullptr;
    op.bs0 = op.bs1 = a_scale;
    if constexpr (BLOCK) {
        if (tid < kBM) {
            const int s = sorted_rows[m0 + tid];
            if (s >= 0) op.as_row = a_scale + (int64_t)(s / topk) * kgroups;
        }
        const int nbr = 2 * I / 128;
        op.bs0 = w_scale + ((int64_t)expert * nbr + i0 / 128) * kgroups;
        op.bs1 = w_scale + ((int64_t)expert * nbr + (I + i0) / 128) * kgroups;
    }
    float tensor_scale = 1.f;
    if constexpr (!BLOCK) tensor_scale = a_scale[0] * w_scale[expert];

    float h[2][32];  // SwiGLU of pass p: h[p][4*j2 + i], column 8*j2 + 2*(lane%4) + i%2 of the pass's 64
    float acc[64];
#pragma unroll
    for (int p = 0; p < 2; ++p) {
        // B-tile row j = tid/8 + 32 i: gate (j/8 even) or up row of column i0 + 64p + (j/16)*8 + j%8
        const int r0 = tid / 8;
        const int col0 = i0 + 64 * p + (r0 / 16) * 8 + r0 % 8;
        const bool up = (r0 / 8) & 1;
        op.b_row = w + ((int64_t)expert * 2 * I + (up ? I + col0 : col0)) * H;
        op.b_stride = (int64_t)16 * H;  // i -> i + 1 moves 32 B-tile rows = 16 columns
        op.b_valid = col0 < I ? (I - col0 + 15) / 16 : 0;
#pragma unroll
        for (int r = 0; r < 64; ++r) acc[r] = 0.f;
        run<BLOCK>(smem, 0, kgroups, H, op, acc);
#pragma unroll
        for (int j2 = 0; j2 < 8; ++j2)
#pragma unroll
            for (int i = 0; i < 4; ++i)
                h[p][4 * j2 + i] = silu(acc[8 * j2 + i] * tensor_scale) * (acc[8 * j2 + 4 + i] * tensor_scale);
    }

    const int r_lo = (warp / 4) * 64 + (warp % 4) * 16 + lane / 4;
    if constexpr (BLOCK) {
        uint8_t* inter_q = static_cast<uint8_t*>(inter);
        const int groups = I / 128;
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            float m = 0.f;
#pragma unroll
            for (int p = 0; p < 2; ++p)
#pragma unroll
                for (int j2 = 0; j2 < 8; ++j2)
                    m = fmaxf(m, fmaxf(fabsf(h[p][4 * j2 + 2 * hf]), fabsf(h[p][4 * j2 + 2 * hf + 1])));
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
            const float scale = m > 0.f ? m / 448.f : 1.f;
            const int64_t prow = m0 + r_lo + 8 * hf;
#pragma unroll
            for (int p = 0; p < 2; ++p)
#pragma unroll
                for (int j2 = 0; j2 < 8; ++j2) {
                    const int col = i0 + 64 * p + 8 * j2 + (lane & 3) * 2;
                    const uint16_t q =
                        (uint16_t)__nv_cvt_float_to_fp8(h[p][4 * j2 + 2 * hf] / scale, __NV_SATFINITE, __NV_E4M3) |
                        ((uint16_t)__nv_cvt_float_to_fp8(h[p][4 * j2 + 2 * hf + 1] / scale, __NV_SATFINITE, __NV_E4M3) << 8);
                    *reinterpret_cast<uint16_t*>(inter_q + prow * I + col) = q;
                }
            if ((lane & 3) == 0) inter_scale[prow * groups + i0 / 128] = scale;
        }
    } else {
        float* inter_f = static_cast<float*>(inter);
        float m = 0.f;
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            const int64_t prow = m0 + r_lo + 8 * hf;
#pragma unroll
            for (int p = 0; p < 2; ++p)
#pragma unroll
                for (int j2 = 0; j2 < 8; ++j2) {
                    const int col = i0 + 64 * p + 8 * j2 + (lane & 3) * 2;
                    if (col < I) {
                        const float v0 = h[p][4 * j2 + 2 * hf], v1 = h[p][4 * j2 + 2 * hf + 1];
                        *reinterpret_cast<float2*>(inter_f + prow * I + col) = make_float2(v0, v1);
                        m = fmaxf(m, fmaxf(fabsf(v0), fabsf(v1)));
                    }
                }
        }
#pragma unroll
        for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
        if (lane == 0) warp_amax[warp] = m;
        __syncthreads();
        if (tid == 0) {
            float b = 0.f;
            for (int x = 0; x < kThreads / 32; ++x) b = fmaxf(b, warp_amax[x]);
            inter_scale[blockIdx.x] = b;
        }
    }
#else
    __trap();  // launched only on sm_90 devices
#endif
}

// GEMM 2, wgmma. One CTA: 128 padded rows x 128 output columns over
// the K tiles [blockIdx.y * kt_per_split, ...). Grid: (max_m_blocks * ceil(H / 128), splits). Arguments as
// fi_gemm2_* of moe_gemm.cu.
template <bool BLOCK>
__device__ __forceinline__ void fi_gemm2_wg_impl(const uint8_t* __restrict__ a, const float* __restrict__ a_scale,
                                                 const uint8_t* __restrict__ w, const float* __restrict__ w_scale,
                                                 const int* __restrict__ sorted_rows,
                                                 const int* __restrict__ block_expert, const int* __restrict__ meta,
                                                 int entries, int I, int H, int kt_per_split,
                                                 float* __restrict__ partial) {
#ifdef FI_WGMMA
    using namespace moespec_fi;
    using namespace moespec_fi::wg;
    extern __shared__ __align__(1024) uint8_t wg_smem[];
    uint8_t* smem = wg_smem + ((1024 - (smem_u32(wg_smem) & 1023)) & 1023);
    __shared__ int srow[kBM];
    const int n_tiles = (H + kBN - 1) / kBN;
    int m_blk, n_blk;
    if (!tile_of(meta[0], n_tiles, m_blk, n_blk)) return;
    const int expert = block_expert[m_blk];
    const int m0 = m_blk * kBM, n0 = n_blk * kBN;
    const int kgroups = (I + kBK - 1) / kBK;
    const int kt_begin = blockIdx.y * kt_per_split, kt_end = min(kgroups, kt_begin + kt_per_split);
    if (kt_begin >= kt_end) return;
    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
    if (tid < kBM) srow[tid] = sorted_rows[m0 + tid];
    __syncthreads();

    Operands<kBM> op;
#pragma unroll
    for (int i = 0; i < Operands<kBM>::kAPer; ++i) {
        const int row = tid / 8 + 32 * i;
        op.a_src[i] = srow[row] >= 0 ? a + (int64_t)(m0 + row) * I : nullptr;
    }
    {
        const int n = n0 + tid / 8;
        op.b_row = w + ((int64_t)expert * H + n) * I;
        op.b_stride = (int64_t)32 * I;
        op.b_valid = n < H ? (H - n + 31) / 32 : 0;
    }
    op.as_row = nullptr;
    op.bs0 = op.bs1 = a_scale;
    if constexpr (BLOCK) {
        if (tid < kBM && srow[tid] >= 0) op.as_row = a_scale + (int64_t)(m0 + tid) * kgroups;
        op.bs0 = op.bs1 = w_scale + ((int64_t)expert * (H / 128) + n0 / 128) * kgroups;
    }
    float acc[64];
#pragma unroll
    for (int r = 0; r < 64; ++r) acc[r] = 0.f;
    run<BLOCK>(smem, kt_begin, kt_end, I, op, acc);

    float scale = 1.f;
    if constexpr (!BLOCK) scale = a_scale[0] * w_scale[expert];
    const int r_lo = (warp / 4) * 64 + (warp % 4) * 16 + lane / 4;
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        const int s = srow[r_lo + 8 * hf];
        if (s < 0) continue;
        float* dst = partial + ((int64_t)blockIdx.y * entries + s) * H;
#pragma unroll
        for (int j = 0; j < 16; ++j) {
            const int col = n0 + 8 * j + (lane & 3) * 2;
            if (col < H) store_partial2(dst, col, acc[4 * j + 2 * hf] * scale, acc[4 * j + 2 * hf + 1] * scale);
        }
    }
#else
    __trap();  // launched only on sm_90 devices
#endif
}

#define FI_GEMM1_WG(NAME, BLK)                                                                                      \
    extern "C" __global__ void __launch_bounds__(256, 1) NAME(                                                     \
        const uint8_t* a, const float* a_scale, const uint8_t* w, const float* w_scale, const int* sorted_rows,      \
        const int* block_expert, const int* meta, int topk, int H, int I, void* inter, float* inter_scale) {         \
        fi_gemm1_wg_impl<BLK>(a, a_scale, w, w_scale, sorted_rows, block_expert, meta, topk, H, I, inter,           \
                              inter_scale);                                                                          \
    }
#define FI_GEMM2_WG(NAME, BLK)                                                                                      \
    extern "C" __global__ void __launch_bounds__(256, 1) NAME(                                                     \
        const uint8_t* a, const float* a_scale, const uint8_t* w, const float* w_scale, const int* sorted_rows,      \
        const int* block_expert, const int* meta, int entries, int I, int H, int kt_per_split,                      \
        float* partial) {                                                                                    \
        fi_gemm2_wg_impl<BLK>(a, a_scale, w, w_scale, sorted_rows, block_expert, meta, entries, I, H, kt_per_split, \
                              partial);                                                                              \
    }

FI_GEMM1_WG(fi_gemm1_block_wg, true)
FI_GEMM1_WG(fi_gemm1_tensor_wg, false)
FI_GEMM2_WG(fi_gemm2_block_wg, true)
FI_GEMM2_WG(fi_gemm2_tensor_wg, false)
