// Grouped FP8 GEMMs of flashinfer_trtllm's MoE on e4m3 tensor cores (mma.sync m16n8k32, sm_89 and sm_90).
//
// Rows are the (token, slot) entries sorted by expert and padded per expert to BM (fi_align). A CTA computes a
// BM x BN tile of one expert; its A rows are gathered through sorted_rows (GEMM 1 reads the token's quantised
// hidden row, so activations are quantised once per token, not once per slot), its B rows are the expert's weight
// rows in Hugging Face layout ([N, K], K contiguous: exactly the "col" operand of mma.row.col, no repack).
// K advances in tiles of 128 = the scale group, through a STAGES-deep cp.async pipeline into XOR-swizzled shared
// memory (conflict-free ldmatrix).
//
// fp8_block_128: each 128-wide K tile is accumulated in a scratch accumulator, then promoted into the fp32 result
// with (activation scale of the row for that K group) x (weight scale of the 128x128 block), as DeepSeek-V3 /
// TRT-LLM do. fp8_per_tensor: one accumulator; the two scalar scales are applied in the epilogue.
//
// GEMM 1 (w13, K = H): its B tile interleaves gate and up rows by 8, so that every thread holds gate and up of
// the same output column: SwiGLU is applied in registers. Block-128: the CTA covers 128 intermediate columns =
// one activation group, so the re-quantisation of the intermediate (per row per 128 group) happens in the
// epilogue and GEMM 2 reads e4m3 directly. Per-tensor: it writes fp32 and per-CTA amax partials (the tensor-wide
// scale needs every CTA), and fi_quant_tensor_f32 quantises.
// GEMM 2 (w2, K = I): the epilogue stores each (split, entry) partial row in bf16 to the workspace
// [splits][M*k][H] (one writer per element, no atomics); fi_finalize_out (moe_quant.cu) then sums the top-k slots
// and the split-K pieces in a fixed order with the router weights: a deterministic reduction, TRT-LLM's "finalize".
// Split-K serves small M (too few tiles to fill the GPU otherwise).
//
// Tile order: m blocks fastest inside groups of 16, so that CTAs running together share weight tiles in L2.

#include "moe_gemm_common.cuh"

// GEMM 1 + SwiGLU (+ block-128 re-quantisation). One CTA: BM padded rows x 128 intermediate columns
// (B tile = 128 gate rows + 128 up rows interleaved by 8). Grid: (max_m_blocks * ceil(I / 128)).
//   a         e4m3 [M, H] quantised hidden      a_scale  BLOCK: [M, H/128]; per-tensor: [1]
//   w         e4m3 [E, 2I, H]                   w_scale  BLOCK: [E, 2I/128, H/128]; per-tensor: [E]
//   BLOCK: inter_q e4m3 [cap, I], inter_scale [cap, I/128]; per-tensor: inter_f fp32 [cap, I] (as inter_q),
//   amax_partial [gridDim.x] (as inter_scale)
template <int BM, int STAGES, bool BLOCK>
__device__ __forceinline__ void fi_gemm1_impl(const uint8_t* __restrict__ a, const float* __restrict__ a_scale,
                                              const uint8_t* __restrict__ w, const float* __restrict__ w_scale,
                                              const int* __restrict__ sorted_rows,
                                              const int* __restrict__ block_expert, const int* __restrict__ meta,
                                              int topk, int H, int I, void* __restrict__ inter,
                                              float* __restrict__ inter_scale) {
    using namespace moespec_fi;
    constexpr int BN = 256;
    using T = Tile<BM, BN>;
    using L = MainLoop<BM, BN, STAGES, BLOCK>;
    extern __shared__ __align__(128) uint8_t gemm_smem[];
    uint8_t* smem = gemm_smem;
    __shared__ float row_red[BM][T::kWarpsN];
    const int n_tiles = (I + 127) / 128;
    int m_blk, n_blk;
    if (!tile_of(meta[0], n_tiles, m_blk, n_blk)) {
        if (!BLOCK && threadIdx.x == 0) inter_scale[blockIdx.x] = 0.f;  // this CTA's amax partial
        return;
    }
    const int expert = block_expert[m_blk];
    const int m0 = m_blk * BM, i0 = n_blk * 128;
    const int kgroups = (H + kBK - 1) / kBK;
    const int tid = threadIdx.x;

    Operands<BM> op;
#pragma unroll
    for (int i = 0; i < Operands<BM>::kAPer; ++i) {
        const int row = tid / 8 + 32 * i;
        op.a_src[i] = nullptr;
        if (row < BM) {
            const int s = sorted_rows[m0 + row];
            if (s >= 0) op.a_src[i] = a + (int64_t)(s / topk) * H;
        }
    }
    {
        // B-tile row j = tid/8 + 32 i: pair j/16 of 8 columns, gate (j/8 even) or up; column i0 + (j/16)*8 + j%8
        const int r0 = tid / 8;
        const int col0 = i0 + (r0 / 16) * 8 + r0 % 8;
        const bool up = (r0 / 8) & 1;
        op.b_row = w + ((int64_t)expert * 2 * I + (up ? I + col0 : col0)) * H;
        op.b_stride = (int64_t)16 * H;  // i -> i + 1 moves 32 B-tile rows = 16 columns
        op.b_valid = col0 < I ? (I - col0 + 15) / 16 : 0;
    }
    op.as_row = nullptr;
    op.bs0 = op.bs1 = a_scale;
    if constexpr (BLOCK) {
        if (tid < BM) {
            const int s = sorted_rows[m0 + tid];
            if (s >= 0) op.as_row = a_scale + (int64_t)(s / topk) * kgroups;
        }
        const int nbr = 2 * I / 128;
        op.bs0 = w_scale + ((int64_t)expert * nbr + i0 / 128) * kgroups;
        op.bs1 = w_scale + ((int64_t)expert * nbr + (I + i0) / 128) * kgroups;
    }

    float acc[T::kMT][T::kNT][4];
#pragma unroll
    for (int mt = 0; mt < T::kMT; ++mt)
#pragma unroll
        for (int nt = 0; nt < T::kNT; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.f;

    L::run(smem, 0, kgroups, H, op, acc);

    const int warp = tid / 32, lane = tid % 32;
    const int wm = warp / T::kWarpsN, wn = warp % T::kWarpsN;
    float tensor_scale = 1.f;
    if constexpr (!BLOCK) tensor_scale = a_scale[0] * w_scale[expert];

    // SwiGLU in registers: n8 tile 2p is gate, 2p+1 is up, of intermediate columns i0 + wn*kWN/2 + 8p + [0, 8)
    float h[T::kMT][T::kNT / 2][4];
    float amax_row[T::kMT][2];
#pragma unroll
    for (int mt = 0; mt < T::kMT; ++mt) {
        amax_row[mt][0] = amax_row[mt][1] = 0.f;
#pragma unroll
        for (int p = 0; p < T::kNT / 2; ++p)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const float v = silu(acc[mt][2 * p][i] * tensor_scale) * (acc[mt][2 * p + 1][i] * tensor_scale);
                h[mt][p][i] = v;
                amax_row[mt][i >> 1] = fmaxf(amax_row[mt][i >> 1], fabsf(v));
            }
    }

    if constexpr (BLOCK) {
        uint8_t* inter_q = static_cast<uint8_t*>(inter);
        // row amax over the 128 columns: the 4 lanes of a quad, then the kWarpsN warps of the row
#pragma unroll
        for (int mt = 0; mt < T::kMT; ++mt)
#pragma unroll
            for (int hf = 0; hf < 2; ++hf) {
                float m = amax_row[mt][hf];
                m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
                m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
                if ((lane & 3) == 0) row_red[wm * T::kWM + mt * 16 + hf * 8 + lane / 4][wn] = m;
            }
        __syncthreads();
        const int groups = I / 128;
#pragma unroll
        for (int mt = 0; mt < T::kMT; ++mt)
#pragma unroll
            for (int hf = 0; hf < 2; ++hf) {
                const int r = wm * T::kWM + mt * 16 + hf * 8 + lane / 4;
                float m = 0.f;
#pragma unroll
                for (int x = 0; x < T::kWarpsN; ++x) m = fmaxf(m, row_red[r][x]);
                const float scale = m > 0.f ? m / 448.f : 1.f;
                const int64_t prow = m0 + r;
#pragma unroll
                for (int p = 0; p < T::kNT / 2; ++p) {
                    const int col = i0 + wn * (T::kWN / 2) + p * 8 + (lane & 3) * 2;
                    const uint16_t q = (uint16_t)__nv_cvt_float_to_fp8(h[mt][p][hf * 2] / scale, __NV_SATFINITE, __NV_E4M3) |
                                       ((uint16_t)__nv_cvt_float_to_fp8(h[mt][p][hf * 2 + 1] / scale, __NV_SATFINITE, __NV_E4M3) << 8);
                    *reinterpret_cast<uint16_t*>(inter_q + prow * I + col) = q;
                }
                if (wn == 0 && (lane & 3) == 0) inter_scale[prow * groups + i0 / 128] = scale;
            }
    } else {
        float* inter_f = static_cast<float*>(inter);
        float m = 0.f;
#pragma unroll
        for (int mt = 0; mt < T::kMT; ++mt)
#pragma unroll
            for (int hf = 0; hf < 2; ++hf) {
                const int64_t prow = m0 + wm * T::kWM + mt * 16 + hf * 8 + lane / 4;
#pragma unroll
                for (int p = 0; p < T::kNT / 2; ++p) {
                    const int col = i0 + wn * (T::kWN / 2) + p * 8 + (lane & 3) * 2;
                    if (col < I) {
                        *reinterpret_cast<float2*>(inter_f + prow * I + col) = make_float2(h[mt][p][hf * 2], h[mt][p][hf * 2 + 1]);
                        m = fmaxf(m, fmaxf(fabsf(h[mt][p][hf * 2]), fabsf(h[mt][p][hf * 2 + 1])));
                    }
                }
            }
#pragma unroll
        for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
        float* red = &row_red[0][0];
        if (lane == 0) red[warp] = m;
        __syncthreads();
        if (tid == 0) {
            float b = 0.f;
            for (int x = 0; x < kThreads / 32; ++x) b = fmaxf(b, red[x]);
            inter_scale[blockIdx.x] = b;
        }
    }
}

// GEMM 2. One CTA: BM padded rows x 128 output columns over the K tiles [blockIdx.y * kt_per_split, ...)
// (split-K). Grid: (max_m_blocks * ceil(H / 128), splits).
//   a  e4m3 [cap, I] intermediate by padded row   a_scale BLOCK: [cap, I/128]; per-tensor [1]
//   w  e4m3 [E, H, I]                             w_scale BLOCK: [E, H/128, I/128]; per-tensor [E]
//   partial fp32 [splits, entries = M*k, H]: row (split, entry) = this split's share of expert(entry)(x), unweighted
template <int BM, int STAGES, bool BLOCK>
__device__ __forceinline__ void fi_gemm2_impl(const uint8_t* __restrict__ a, const float* __restrict__ a_scale,
                                              const uint8_t* __restrict__ w, const float* __restrict__ w_scale,
                                              const int* __restrict__ sorted_rows,
                                              const int* __restrict__ block_expert, const int* __restrict__ meta,
                                              int entries, int I, int H, int kt_per_split,
                                              float* __restrict__ partial) {
    using namespace moespec_fi;
    constexpr int BN = 128;
    using T = Tile<BM, BN>;
    using L = MainLoop<BM, BN, STAGES, BLOCK>;
    extern __shared__ __align__(128) uint8_t gemm_smem[];
    uint8_t* smem = gemm_smem;
    __shared__ int srow[BM];
    const int n_tiles = (H + BN - 1) / BN;
    int m_blk, n_blk;
    if (!tile_of(meta[0], n_tiles, m_blk, n_blk)) return;
    const int expert = block_expert[m_blk];
    const int m0 = m_blk * BM, n0 = n_blk * BN;
    const int kgroups = (I + kBK - 1) / kBK;
    const int kt_begin = blockIdx.y * kt_per_split, kt_end = min(kgroups, kt_begin + kt_per_split);
    if (kt_begin >= kt_end) return;
    const int tid = threadIdx.x;
    if (tid < BM) srow[tid] = sorted_rows[m0 + tid];
    __syncthreads();

    Operands<BM> op;
#pragma unroll
    for (int i = 0; i < Operands<BM>::kAPer; ++i) {
        const int row = tid / 8 + 32 * i;
        op.a_src[i] = row < BM && srow[row] >= 0 ? a + (int64_t)(m0 + row) * I : nullptr;
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
        if (tid < BM && srow[tid] >= 0) op.as_row = a_scale + (int64_t)(m0 + tid) * kgroups;
        op.bs0 = op.bs1 = w_scale + ((int64_t)expert * (H / 128) + n0 / 128) * kgroups;
    }

    float acc[T::kMT][T::kNT][4];
#pragma unroll
    for (int mt = 0; mt < T::kMT; ++mt)
#pragma unroll
        for (int nt = 0; nt < T::kNT; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.f;
    L::run(smem, kt_begin, kt_end, I, op, acc);

    const int warp = tid / 32, lane = tid % 32;
    const int wm = warp / T::kWarpsN, wn = warp % T::kWarpsN;
    float scale = 1.f;
    if constexpr (!BLOCK) scale = a_scale[0] * w_scale[expert];
#pragma unroll
    for (int mt = 0; mt < T::kMT; ++mt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            const int s = srow[wm * T::kWM + mt * 16 + hf * 8 + lane / 4];
            if (s < 0) continue;
            float* dst = partial + ((int64_t)blockIdx.y * entries + s) * H;
#pragma unroll
            for (int nt = 0; nt < T::kNT; ++nt) {
                const int col = n0 + wn * T::kWN + nt * 8 + (lane & 3) * 2;
                if (col < H) store_partial2(dst, col, acc[mt][nt][hf * 2] * scale, acc[mt][nt][hf * 2 + 1] * scale);
            }
        }
}

#define FI_GEMM1(NAME, BM, ST, BLK)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                        \
        const uint8_t* a, const float* a_scale, const uint8_t* w, const float* w_scale, const int* sorted_rows,      \
        const int* block_expert, const int* meta, int topk, int H, int I, void* inter, float* inter_scale) {         \
        fi_gemm1_impl<BM, ST, BLK>(a, a_scale, w, w_scale, sorted_rows, block_expert, meta, topk, H, I, inter,      \
                                   inter_scale);                                                                     \
    }
// Decode variant of GEMM 1 (16-row tiles, Hopper): 3 stages and at most 128 registers, so that 2 CTAs share an SM
// (2 x 104 KiB of stages) and one streams weights while the other fills its pipeline or runs its epilogue; the
// 4-stage kernel holds 1 CTA per SM (137 registers). The host picks per M (FlashInferTrtllmMoeKernel).
#define FI_GEMM1_X2(NAME, BM, ST, BLK)                                                                               \
    extern "C" __global__ void __launch_bounds__(256, 2) NAME(                                                     \
        const uint8_t* a, const float* a_scale, const uint8_t* w, const float* w_scale, const int* sorted_rows,      \
        const int* block_expert, const int* meta, int topk, int H, int I, void* inter, float* inter_scale) {         \
        fi_gemm1_impl<BM, ST, BLK>(a, a_scale, w, w_scale, sorted_rows, block_expert, meta, topk, H, I, inter,      \
                                   inter_scale);                                                                     \
    }
#define FI_GEMM2(NAME, BM, ST, BLK)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                        \
        const uint8_t* a, const float* a_scale, const uint8_t* w, const float* w_scale, const int* sorted_rows,      \
        const int* block_expert, const int* meta, int entries, int I, int H, int kt_per_split,                      \
        float* partial) {                                                                                    \
        fi_gemm2_impl<BM, ST, BLK>(a, a_scale, w, w_scale, sorted_rows, block_expert, meta, entries, I, H,          \
                                   kt_per_split, partial);                                                          \
    }

FI_GEMM1(fi_gemm1_block_bm16_s2, 16, 2, true)
FI_GEMM1(fi_gemm1_block_bm16_s4, 16, 4, true)
FI_GEMM1(fi_gemm1_block_bm64_s2, 64, 2, true)
FI_GEMM1(fi_gemm1_block_bm64_s4, 64, 4, true)
FI_GEMM1(fi_gemm1_tensor_bm16_s2, 16, 2, false)
FI_GEMM1(fi_gemm1_tensor_bm16_s4, 16, 4, false)
FI_GEMM1(fi_gemm1_tensor_bm64_s2, 64, 2, false)
FI_GEMM1(fi_gemm1_tensor_bm64_s4, 64, 4, false)
FI_GEMM1_X2(fi_gemm1_block_bm16_s3x2, 16, 3, true)
FI_GEMM1_X2(fi_gemm1_tensor_bm16_s3x2, 16, 3, false)
FI_GEMM2(fi_gemm2_block_bm16_s2, 16, 2, true)
FI_GEMM2(fi_gemm2_block_bm16_s4, 16, 4, true)
FI_GEMM2(fi_gemm2_block_bm64_s2, 64, 2, true)
FI_GEMM2(fi_gemm2_block_bm64_s4, 64, 4, true)
FI_GEMM2(fi_gemm2_tensor_bm16_s2, 16, 2, false)
FI_GEMM2(fi_gemm2_tensor_bm16_s4, 16, 4, false)
FI_GEMM2(fi_gemm2_tensor_bm64_s2, 64, 2, false)
FI_GEMM2(fi_gemm2_tensor_bm64_s4, 64, 4, false)
