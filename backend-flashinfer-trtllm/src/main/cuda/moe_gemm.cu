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
// GEMM 2 (w2, K = I): epilogue multiplies by the router weight and accumulates into the fp32 [M, H] output with
// atomic adds: the reduction over top-k, and split-K for small M (too few tiles to fill the GPU otherwise).
//
// Tile order: m blocks fastest inside groups of 16, so that CTAs running together share weight tiles in L2.

#include <cstdint>
#include <cuda_fp8.h>

namespace moespec_fi {

constexpr int kThreads = 256;  // 8 warps
constexpr int kBK = 128;       // K tile = scale group
constexpr int kGroupM = 16;

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// byte offset of 16-byte chunk `chunk` (0..7) of row `row` in a [rows][128 B] tile, XOR-swizzled by row % 8
__device__ __forceinline__ uint32_t swz(int row, int chunk) {
    return row * 128 + ((chunk ^ (row & 7)) << 4);
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cp_async4(uint32_t dst, const void* src, bool valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 4 : 0));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

__device__ __forceinline__ void mma_e4m3(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
    __trap();  // the provider refuses devices below sm_89
#endif
}

template <int BM, int BN>
struct Tile {
    static constexpr int kWarpsM = BM >= 64 ? 2 : 1;
    static constexpr int kWarpsN = 8 / kWarpsM;
    static constexpr int kWM = BM / kWarpsM;  // rows per warp
    static constexpr int kWN = BN / kWarpsN;  // cols per warp
    static constexpr int kMT = kWM / 16;      // m16 tiles per warp
    static constexpr int kNT = kWN / 8;       // n8 tiles per warp (even)
    static constexpr int kABytes = BM * kBK;
    static constexpr int kBBytes = BN * kBK;
    static constexpr int kStageBytes = kABytes + kBBytes + BM * 4 + 16;  // + activation scales, 2 weight scales
    static_assert(kMT >= 1 && kNT % 2 == 0, "tile shape");
};

// Decodes the CTA's (m block, n tile) from blockIdx.x with grouped ordering; false when past the real blocks.
__device__ __forceinline__ bool tile_of(int num_m, int n_tiles, int& m_blk, int& n_blk) {
    const int pid = blockIdx.x;
    if (pid >= num_m * n_tiles) return false;
    const int per_group = kGroupM * n_tiles;
    const int first_m = (pid / per_group) * kGroupM;
    const int gsize = min(num_m - first_m, kGroupM);
    const int in_group = pid % per_group;
    m_blk = first_m + in_group % gsize;
    n_blk = in_group / gsize;
    return true;
}

// What one thread loads per K tile. A 16-byte chunk index is tid % 8 for every row a thread touches; its A rows
// are tid / 8 + 32 i (gathered: one pointer each, nullptr for padding), its B-tile rows tid / 8 + 32 i map to
// weight rows b_row + i * b_stride (valid for i < b_valid): one pointer and a stride instead of an array, which
// would cost registers the accumulators need.
template <int BM>
struct Operands {
    static constexpr int kAPer = (BM * 8 + kThreads - 1) / kThreads;
    const uint8_t* a_src[kAPer];
    const uint8_t* b_row;
    int64_t b_stride;
    int b_valid;
    const float* as_row;  // BLOCK, threads < BM: the K-group scales of A row tid (nullptr for padding)
    const float* bs0;     // BLOCK: K-group scales of the gate (GEMM 1) / only (GEMM 2) weight block
    const float* bs1;     // BLOCK: of the up weight block (GEMM 1) / same as bs0 (GEMM 2)
};

// The shared main loop: acc[MT][NT][4] += A[BM x K tiles] . B[BN x K tiles]^T, with block-scale promotion
// when BLOCK.
template <int BM, int BN, int STAGES, bool BLOCK>
struct MainLoop {
    using T = Tile<BM, BN>;

    __device__ __forceinline__ static void load_stage(uint8_t* stage, int kt, int K, const Operands<BM>& op) {
        const int tid = threadIdx.x;
        const uint32_t sa = smem_u32(stage), sb = sa + T::kABytes;
        const int chunk = tid % 8, k = kt * kBK + chunk * 16;
        const bool k_ok = k < K;
#pragma unroll
        for (int i = 0; i < Operands<BM>::kAPer; ++i) {
            const int row = tid / 8 + 32 * i;
            if (row < BM) {
                const uint8_t* src = op.a_src[i];
                const bool valid = src != nullptr && k_ok;
                cp_async16(sa + swz(row, chunk), valid ? src + k : op.b_row, valid);
            }
        }
#pragma unroll
        for (int i = 0; i < BN / 32; ++i) {
            const bool valid = i < op.b_valid && k_ok;
            cp_async16(sb + swz(tid / 8 + 32 * i, chunk), valid ? op.b_row + i * op.b_stride + k : op.b_row, valid);
        }
        if constexpr (BLOCK) {
            const uint32_t ss = sb + T::kBBytes;
            if (tid < BM) {
                cp_async4(ss + tid * 4, op.as_row != nullptr ? op.as_row + kt : op.bs0, op.as_row != nullptr);
            } else if (tid == BM) {
                cp_async4(ss + BM * 4, op.bs0 + kt, true);
            } else if (tid == BM + 1) {
                cp_async4(ss + BM * 4 + 4, op.bs1 + kt, true);
            }
        }
    }

    __device__ __forceinline__ static void run(uint8_t* smem, int kt_begin, int kt_end, int K, const Operands<BM>& op,
                                               float (&acc)[T::kMT][T::kNT][4]) {
        const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
        const int wm = warp / T::kWarpsN, wn = warp % T::kWarpsN;
#pragma unroll
        for (int s = 0; s < STAGES - 1; ++s) {
            if (kt_begin + s < kt_end)
                load_stage(smem + s * T::kStageBytes, kt_begin + s, K, op);
            cp_async_commit();
        }
        for (int kt = kt_begin; kt < kt_end; ++kt) {
            cp_async_wait<STAGES - 2>();
            __syncthreads();
            {
                const int nk = kt + STAGES - 1;
                if (nk < kt_end)
                    load_stage(smem + ((nk - kt_begin) % STAGES) * T::kStageBytes, nk, K, op);
                cp_async_commit();
            }
            const uint8_t* stage = smem + ((kt - kt_begin) % STAGES) * T::kStageBytes;
            const uint32_t sa = smem_u32(stage), sb = sa + T::kABytes;
            if constexpr (BLOCK) {
                float part[T::kMT][T::kNT][4];
#pragma unroll
                for (int mt = 0; mt < T::kMT; ++mt)
#pragma unroll
                    for (int nt = 0; nt < T::kNT; ++nt)
#pragma unroll
                        for (int i = 0; i < 4; ++i) part[mt][nt][i] = 0.f;
                mma_stage(sa, sb, wm, wn, lane, part);
                const float* sc = reinterpret_cast<const float*>(stage + T::kABytes + T::kBBytes);
                const float w0 = sc[BM], w1 = sc[BM + 1];
#pragma unroll
                for (int mt = 0; mt < T::kMT; ++mt) {
                    const int r = wm * T::kWM + mt * 16 + lane / 4;
                    const float a_lo = sc[r], a_hi = sc[r + 8];
#pragma unroll
                    for (int nt = 0; nt < T::kNT; ++nt) {
                        // GEMM 1: even n8 tiles are gate rows (scale w0), odd are up rows (w1); GEMM 2: w0 == w1
                        const float w = (nt & 1) ? w1 : w0;
                        acc[mt][nt][0] += part[mt][nt][0] * (a_lo * w);
                        acc[mt][nt][1] += part[mt][nt][1] * (a_lo * w);
                        acc[mt][nt][2] += part[mt][nt][2] * (a_hi * w);
                        acc[mt][nt][3] += part[mt][nt][3] * (a_hi * w);
                    }
                }
            } else {
                mma_stage(sa, sb, wm, wn, lane, acc);
            }
        }
        cp_async_wait<0>();
    }

    // dst += A_stage . B_stage^T over one 128-wide K tile
    __device__ __forceinline__ static void mma_stage(uint32_t sa, uint32_t sb, int wm, int wn, int lane,
                                                     float (&dst)[T::kMT][T::kNT][4]) {
#pragma unroll
        for (int ks = 0; ks < kBK / 32; ++ks) {
            uint32_t af[T::kMT][4];
#pragma unroll
            for (int mt = 0; mt < T::kMT; ++mt) {
                const int row = wm * T::kWM + mt * 16 + (lane & 15);
                ldmatrix_x4(sa + swz(row, ks * 2 + (lane >> 4)), af[mt][0], af[mt][1], af[mt][2], af[mt][3]);
            }
#pragma unroll
            for (int np = 0; np < T::kNT / 2; ++np) {
                const int n = wn * T::kWN + np * 16 + (lane & 7) + ((lane >> 4) << 3);
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(sb + swz(n, ks * 2 + ((lane >> 3) & 1)), b0, b1, b2, b3);
#pragma unroll
                for (int mt = 0; mt < T::kMT; ++mt) {
                    mma_e4m3(dst[mt][2 * np], af[mt], b0, b1);
                    mma_e4m3(dst[mt][2 * np + 1], af[mt], b2, b3);
                }
            }
        }
    }
};

__device__ __forceinline__ float silu(float g) { return g / (1.f + expf(-g)); }

}  // namespace moespec_fi

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

// GEMM 2 with router weights and top-k accumulation. One CTA: BM padded rows x 128 output columns over the K
// tiles [blockIdx.y * kt_per_split, ...) (split-K). Grid: (max_m_blocks * ceil(H / 128), splits).
//   a  e4m3 [cap, I] intermediate by padded row   a_scale BLOCK: [cap, I/128]; per-tensor [1]
//   w  e4m3 [E, H, I]                             w_scale BLOCK: [E, H/128, I/128]; per-tensor [E]
//   out_acc fp32 [M, H] += topk_w[entry] * row
template <int BM, int STAGES, bool BLOCK>
__device__ __forceinline__ void fi_gemm2_impl(const uint8_t* __restrict__ a, const float* __restrict__ a_scale,
                                              const uint8_t* __restrict__ w, const float* __restrict__ w_scale,
                                              const int* __restrict__ sorted_rows,
                                              const int* __restrict__ block_expert, const int* __restrict__ meta,
                                              int topk, const float* __restrict__ topk_w, int I, int H,
                                              int kt_per_split, float* __restrict__ out_acc) {
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
            const float rw = topk_w[s] * scale;
            float* dst = out_acc + (int64_t)(s / topk) * H;
#pragma unroll
            for (int nt = 0; nt < T::kNT; ++nt) {
                const int col = n0 + wn * T::kWN + nt * 8 + (lane & 3) * 2;
                if (col < H) {
                    atomicAdd(dst + col, acc[mt][nt][hf * 2] * rw);
                    atomicAdd(dst + col + 1, acc[mt][nt][hf * 2 + 1] * rw);
                }
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
#define FI_GEMM2(NAME, BM, ST, BLK)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                        \
        const uint8_t* a, const float* a_scale, const uint8_t* w, const float* w_scale, const int* sorted_rows,      \
        const int* block_expert, const int* meta, int topk, const float* topk_w, int I, int H, int kt_per_split,    \
        float* out_acc) {                                                                                            \
        fi_gemm2_impl<BM, ST, BLK>(a, a_scale, w, w_scale, sorted_rows, block_expert, meta, topk, topk_w, I, H,     \
                                   kt_per_split, out_acc);                                                          \
    }

FI_GEMM1(fi_gemm1_block_bm16_s2, 16, 2, true)
FI_GEMM1(fi_gemm1_block_bm16_s4, 16, 4, true)
FI_GEMM1(fi_gemm1_block_bm64_s2, 64, 2, true)
FI_GEMM1(fi_gemm1_block_bm64_s4, 64, 4, true)
FI_GEMM1(fi_gemm1_tensor_bm16_s2, 16, 2, false)
FI_GEMM1(fi_gemm1_tensor_bm16_s4, 16, 4, false)
FI_GEMM1(fi_gemm1_tensor_bm64_s2, 64, 2, false)
FI_GEMM1(fi_gemm1_tensor_bm64_s4, 64, 4, false)
FI_GEMM2(fi_gemm2_block_bm16_s2, 16, 2, true)
FI_GEMM2(fi_gemm2_block_bm16_s4, 16, 4, true)
FI_GEMM2(fi_gemm2_block_bm64_s2, 64, 2, true)
FI_GEMM2(fi_gemm2_block_bm64_s4, 64, 4, true)
FI_GEMM2(fi_gemm2_tensor_bm16_s2, 16, 2, false)
FI_GEMM2(fi_gemm2_tensor_bm16_s4, 16, 4, false)
FI_GEMM2(fi_gemm2_tensor_bm64_s2, 64, 2, false)
FI_GEMM2(fi_gemm2_tensor_bm64_s4, 64, 4, false)
