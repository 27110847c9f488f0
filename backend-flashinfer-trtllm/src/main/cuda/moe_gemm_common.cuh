// Shared pieces of the grouped FP8 GEMMs (moe_gemm.cu: mma.sync, sm_89+; moe_gemm_wgmma.cu: wgmma, sm_90a):
// tile decoding, the per-thread operand pointers, the cp.async stage loader into 128-byte XOR-swizzled rows
// (the same layout wgmma's 128B swizzle mode reads), and the mma.sync main loop.
#pragma once

#include <cstdint>
#include <cuda_bf16.h>
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

// GEMM 2's epilogue store: columns (col, col + 1) of one (split, entry) partial row, fp32 (a bf16 partial would add a
// rounding per expert before the sum, 2.4e-3 relative on the demo layers against cpu_reference's single final
// rounding). No atomics: each element of the partial workspace [splits][M*k][H] has exactly one writer, and
// fi_finalize_out sums them in a fixed order.
__device__ __forceinline__ void store_partial2(float* row, int col, float v0, float v1) {
    *reinterpret_cast<float2*>(row + col) = make_float2(v0, v1);
}

}  // namespace moespec_fi
