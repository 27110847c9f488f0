// The prefill path of triton's fused MoE on Hopper (sm_90a): the block-aligned grouped GEMMs of moe_gemm.cu with
// warpgroup MMAs (wgmma.mma_async, operands from shared memory) and 128-row tiles. moe_gemm.cu (mma.sync) stays for
// sm_80/89, for small M and as the fallback; the host picks these kernels only on sm_90 devices.
//
// Tiles. moe_align pads every expert to whole 64-row blocks. A CTA takes the even block of an expert (counted from
// the expert's first block) together with the next one when it belongs to the same expert: 128 rows, one expert,
// 2 consumer warpgroups of 64 rows sharing one B tile. An expert with an odd block count ends in a 64-row tile whose
// second warpgroup only helps load. CTAs given an odd block exit at once (the grid is the mma.sync path's).
//   moe_wg_gemm1_*  inter[a, n] = silu(x[t] . w13[e, n]) * (x[t] . w13[e, I + n]): the B tile interleaves 8 gate and
//                   8 up rows, so n8 accumulator groups 2q (gate) and 2q + 1 (up) of one thread hold the same columns
//                   and SwiGLU is fused in registers; BN/2 intermediate columns per CTA.
//   moe_wg_gemm2_*  partial[a, h] = w_a * (inter[a] . w2[e, h]): BN output columns per CTA (then moe_reduce_topk).
// K moves in tiles of 128 bytes (64 bf16/f16 or 128 e4m3 elements; 4 wgmma k-steps of 32 bytes) through a
// multi-stage cp.async pipeline (cp.async gathers the expert-sorted A rows, which TMA cannot). Each 128-byte row is
// stored XOR-swizzled by row % 8 in 1024-byte-aligned tiles: wgmma's 128B-swizzle K-major layout. One wgmma group
// stays in flight (wait_group 1): the loads for tile kt + S - 2 go into the slot tile kt - 2 used, which every
// warpgroup has finished once all threads pass the barrier at the top of iteration kt.
// FP8: per-tensor/per-channel scales multiply the finished fp32 dot in the epilogue, as in moe_gemm.cu. Block-128:
// the MMAs of each 128-element K group go into a scratch accumulator (the group's first k-step with scale-d = 0),
// which is added to the result scaled by (activation scale of the row) x (weight scale of the column's 128-row
// block), both staged in shared memory with the tile: the fp32 dot of the dequantised values, as cpu_reference has it.
#include "moe_mma_sync.cuh"
#include "moe_wgmma_ops.cuh"

namespace moespec_wg {
using namespace moe;

constexpr int kBM = 128, kHalf = 64, kBK = 128, kGroupM = 16;  // 256 threads: 2 warpgroups

// Shared-memory plan of one kernel: S stages of [A 128 x 128 B][B BN x 128 B][block: 128 A-row + 128 B-row scales].
template <int BN, bool BLOCK> struct Cfg {
    static constexpr int kATile = kBM * kBK;
    static constexpr int kBTile = BN * kBK;
    static constexpr int kScales = BLOCK ? 1024 : 0;
    static constexpr int kStage = kATile + kBTile + kScales;
    static constexpr int kStages = 220 * 1024 / kStage < 6 ? 220 * 1024 / kStage : 6;
    static constexpr int kSmem = kStages * kStage + 1024;  // + slack to align the base to 1024
    static_assert(kStage % 1024 == 0, "stages must stay 1024-byte aligned (128B swizzle atom)");
    static_assert(!BLOCK || BN == 128, "block scales are staged for 128 B rows");
    static_assert(kStages >= 3, "the pipeline needs a slot in flight besides the two the MMAs may read");
};

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ uint32_t swz(int row, int chunk) { return row * kBK + ((chunk ^ (row & 7)) << 4); }

__device__ __forceinline__ void cp_async4(uint32_t dst, const void* src, bool valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(dst), "l"(src), "r"(valid ? 4 : 0));
}

// K-major, 128B swizzle, 8-row core groups 1024 bytes apart
__device__ __forceinline__ uint64_t desc(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

template <int N> __device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

__device__ __forceinline__ void wgmma_fence() {
#ifdef MOESPEC_WGMMA
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#ifdef MOESPEC_WGMMA
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void wgmma_wait() {
#ifdef MOESPEC_WGMMA
    asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
#endif
}
// cp.async writes through the generic proxy, wgmma reads through the async proxy
__device__ __forceinline__ void fence_proxy_async() {
#ifdef MOESPEC_WGMMA
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
}

template <typename T, bool kGemm1, int BN, bool BLOCK>
__device__ __forceinline__ void wg_gemm(
    const char* __restrict__ a_src, int64_t a_row_bytes, const char* __restrict__ w, int k_bytes, int n_out, int top_k,
    int m_tiles_bound, const int32_t* __restrict__ sorted_rows, const int32_t* __restrict__ block_expert,
    const int32_t* __restrict__ padded_offsets, const int32_t* __restrict__ meta, int scale_mode,
    const float* __restrict__ a_scale, int a_scale_per_row, const float* __restrict__ w_scale, void* __restrict__ inter,
    int inter_code, float* __restrict__ inter_amax, int amax_per_row, const float* __restrict__ topk_weights,
    float* __restrict__ partial) {
#ifdef MOESPEC_WGMMA
    using C = Cfg<BN, BLOCK>;
    constexpr int S = C::kStages, kAcc = BN / 2, kBLoads = BN / 32;
    constexpr int kTilesPerGroup = kScaleBlock * (int)sizeof(T) / kBK;  // 128-element scale group: 1 (e4m3) or 2 tiles
    extern __shared__ __align__(1024) uint8_t wg_smem[];
    __shared__ int32_t srow[kBM];
    uint8_t* smem = wg_smem + ((1024 - (smem_u32(wg_smem) & 1023)) & 1023);

    // Grouped rasterisation over 64-row blocks: kGroupM blocks share each weight tile while it is in L2.
    const int out_cols = kGemm1 ? BN / 2 : BN;
    const int n_tiles = (n_out + out_cols - 1) / out_cols;
    const int pid = blockIdx.x, in_group = kGroupM * n_tiles;
    const int first_m = pid / in_group * kGroupM;
    const int group_m = min(m_tiles_bound - first_m, kGroupM);
    const int blk = first_m + (pid % in_group) % group_m;
    const int tile_n = (pid % in_group) / group_m;
    const int n_blocks = meta[1];
    if (blk >= n_blocks) return;
    const int e = block_expert[blk];
    if ((blk - padded_offsets[e] / kHalf) & 1) return;  // the odd block of a pair: the even block's CTA covers it
    const bool hi = blk + 1 < n_blocks && block_expert[blk + 1] == e;
    const int m0 = blk * kHalf, n0 = tile_n * out_cols;
    const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp, wgi = tid / 128;
    if (tid < kBM) srow[tid] = tid < kHalf || hi ? sorted_rows[m0 + tid] : -1;
    __syncthreads();
    const int64_t expert_rows = kGemm1 ? (int64_t)e * 2 * n_out : (int64_t)e * n_out;

    // This thread's cp.async sources: 16-byte chunk tid % 8 of A rows tid/8 + 32i (null: padding) and of B-tile rows
    // tid/8 + 32i, which are weight rows b_base + i * b_stride for i < b_valid.
    const int chunk = tid % 8, r0 = tid / 8;
    const char* a_ptr[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int a = srow[r0 + 32 * i];
        a_ptr[i] = a < 0 ? nullptr : a_src + (int64_t)(kGemm1 ? a / top_k : a) * a_row_bytes;
    }
    const char* b_base;
    int64_t b_stride;
    int b_valid;
    if (kGemm1) {
        // B-tile row j: n8 group j/8 even = gate, odd = up, column n0 + (j/16)*8 + j%8; i -> i + 1 is 16 columns on
        const int col0 = n0 + (r0 / 16) * 8 + r0 % 8;
        const bool up = (r0 / 8) & 1;
        b_base = w + (expert_rows + (up ? n_out : 0) + col0) * k_bytes;
        b_stride = (int64_t)16 * k_bytes;
        b_valid = col0 < n_out ? (n_out - col0 + 15) / 16 : 0;
    } else {
        b_base = w + (expert_rows + n0 + r0) * k_bytes;
        b_stride = (int64_t)32 * k_bytes;
        b_valid = n0 + r0 < n_out ? (n_out - n0 - r0 + 31) / 32 : 0;
    }
    // Block-128: thread tid < 128 stages A row tid's K-group scales, thread 128 + j those of B-tile row j.
    const float* sc_ptr = nullptr;
    if (BLOCK) {
        const int k_groups = (k_bytes / (int)sizeof(T) + kScaleBlock - 1) / kScaleBlock;
        if (tid < kBM) {
            const int a = srow[tid];
            if (a >= 0) sc_ptr = a_scale + (int64_t)(kGemm1 ? a / top_k : a) * k_groups;
        } else {
            const int j = tid - kBM;
            int col, row;
            if (kGemm1) {
                col = n0 + (j / 16) * 8 + j % 8;
                row = ((j / 8) & 1 ? n_out : 0) + col;
            } else {
                col = row = n0 + j;
            }
            const int w_rows = kGemm1 ? 2 * n_out : n_out;
            if (col < n_out)
                sc_ptr = w_scale + ((int64_t)e * ((w_rows + kScaleBlock - 1) / kScaleBlock) + row / kScaleBlock) * k_groups;
        }
    }

    const uint32_t base = smem_u32(smem);
    const int k_tiles = (k_bytes + kBK - 1) / kBK;
    auto load = [&](int kt, int slot) {
        const uint32_t sa = base + slot * C::kStage, sb = sa + C::kATile;
        const int off = kt * kBK + chunk * 16;
        const bool k_ok = off < k_bytes;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const bool ok = a_ptr[i] != nullptr && k_ok;
            cp_async16(sa + swz(r0 + 32 * i, chunk), ok ? a_ptr[i] + off : a_src, ok);
        }
#pragma unroll
        for (int i = 0; i < kBLoads; ++i) {
            const bool ok = i < b_valid && k_ok;
            cp_async16(sb + swz(r0 + 32 * i, chunk), ok ? b_base + i * b_stride + off : w, ok);
        }
        if (BLOCK) cp_async4(sb + C::kBTile + tid * 4, sc_ptr != nullptr ? sc_ptr + kt / kTilesPerGroup : w_scale, sc_ptr != nullptr);
    };

    float acc[kAcc];
#pragma unroll
    for (int r = 0; r < kAcc; ++r) acc[r] = 0.f;
    float part[BLOCK ? kAcc : 1];
    const bool active = wgi == 0 || hi;  // a warpgroup whose 64 rows are all padding issues no MMAs
    const int r_lo = wgi * 64 + (warp % 4) * 16 + lane / 4;  // fragment row; +8 for fragments 2, 3 of each n8 group

#pragma unroll
    for (int s = 0; s < S - 2; ++s) {
        if (s < k_tiles) load(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
        cp_async_wait<S - 3>();
        fence_proxy_async();
        __syncthreads();  // tile kt landed for everyone; every warpgroup is done with tile kt - 2's slot
        const int nk = kt + S - 2;
        if (nk < k_tiles) load(nk, nk % S);
        cp_async_commit();
        if (!active) continue;
        const uint32_t stage = base + (kt % S) * C::kStage;
        const uint32_t sa = stage + wgi * (C::kATile / 2), sb = stage + C::kATile;
        if constexpr (BLOCK) {
            const bool first = kt % kTilesPerGroup == 0;
            const bool last = kt % kTilesPerGroup == kTilesPerGroup - 1 || kt + 1 == k_tiles;
            fence_regs(part);
            wgmma_fence();
#pragma unroll
            for (int ks = 0; ks < kBK / 32; ++ks)
                Wgmma<T, BN>::run(part, desc(sa + ks * 32), desc(sb + ks * 32), first && ks == 0 ? 0 : 1);
            wgmma_commit();
            if (last) {
                wgmma_wait<0>();
                fence_regs(part);
                const float* sc = reinterpret_cast<const float*>(smem + (kt % S) * C::kStage + C::kATile + C::kBTile);
                const float a_lo = sc[r_lo], a_hi = sc[r_lo + 8];
#pragma unroll
                for (int j = 0; j < BN / 8; ++j) {
                    const float2 ws = *reinterpret_cast<const float2*>(sc + kBM + 8 * j + 2 * (lane % 4));
                    acc[4 * j + 0] = fmaf(part[4 * j + 0], a_lo * ws.x, acc[4 * j + 0]);
                    acc[4 * j + 1] = fmaf(part[4 * j + 1], a_lo * ws.y, acc[4 * j + 1]);
                    acc[4 * j + 2] = fmaf(part[4 * j + 2], a_hi * ws.x, acc[4 * j + 2]);
                    acc[4 * j + 3] = fmaf(part[4 * j + 3], a_hi * ws.y, acc[4 * j + 3]);
                }
            } else {
                wgmma_wait<1>();
            }
        } else {
            fence_regs(acc);
            wgmma_fence();
#pragma unroll
            for (int ks = 0; ks < kBK / 32; ++ks) Wgmma<T, BN>::run(acc, desc(sa + ks * 32), desc(sb + ks * 32), 1);
            wgmma_commit();
            wgmma_wait<1>();
            fence_regs(acc);
        }
    }
    wgmma_wait<0>();
    fence_regs(acc);
    cp_async_wait<0>();
    if (!active) return;

    // Epilogue. acc[4j + i]: row r_lo + 8 * (i / 2), B-tile column 8j + 2 * (lane % 4) + i % 2.
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int a = srow[r_lo + 8 * half];
        if (kGemm1) {
            const float xs = !scaled_after_dot(scale_mode) || a < 0 ? 1.f : a_scale[a_scale_per_row ? a / top_k : 0];
            float row_max = 0.f;
#pragma unroll
            for (int q = 0; q < BN / 16; ++q) {
                const int n = n0 + q * 8 + 2 * (lane % 4);
                if (a < 0 || n >= n_out) continue;
                float h[2];
#pragma unroll
                for (int c = 0; c < 2; ++c) {
                    float g = acc[8 * q + 2 * half + c], u = acc[8 * q + 4 + 2 * half + c];
                    if (scaled_after_dot(scale_mode)) {
                        g *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + n + c);
                        u *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + n_out + n + c);
                    }
                    h[c] = swiglu(g, u);
                }
                const int64_t at = (int64_t)a * n_out + n;
                if (inter_code == kBF16) {
                    *reinterpret_cast<__nv_bfloat162*>(reinterpret_cast<__nv_bfloat16*>(inter) + at) = __floats2bfloat162_rn(h[0], h[1]);
                } else if (inter_code == kF16) {
                    *reinterpret_cast<__half2*>(reinterpret_cast<__half*>(inter) + at) = __floats2half2_rn(h[0], h[1]);
                } else {
                    *reinterpret_cast<float2*>(reinterpret_cast<float*>(inter) + at) = make_float2(h[0], h[1]);
                    row_max = fmaxf(row_max, fmaxf(fabsf(h[0]), fabsf(h[1])));
                }
            }
            if (inter_code == kF32) {
                // the 4 lanes of a quad share the row; a per-tensor max reduces over the whole warp
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
            for (int j = 0; j < BN / 8; ++j) {
                const int hcol = n0 + 8 * j + 2 * (lane % 4);
                if (hcol >= n_out) continue;
                float v0 = acc[4 * j + 2 * half], v1 = acc[4 * j + 2 * half + 1];
                if (scaled_after_dot(scale_mode)) {
                    v0 *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + hcol);
                    v1 *= xs * weight_scale(scale_mode, w_scale, e, expert_rows + hcol + 1);
                }
                *reinterpret_cast<float2*>(partial + (int64_t)a * n_out + hcol) = make_float2(tw * v0, tw * v1);
            }
        }
    }
#else
    __trap();  // launched only on sm_90 devices
#endif
}
}  // namespace moespec_wg

// Launch: 256 threads, moespec_wg::Cfg<BN, BLOCK>::kSmem bytes of dynamic shared memory (BN = 256: 197632; BN = 128
// with block scales: 203776), grid = m_tiles_bound * ceil(n_out / (BN/2 for GEMM 1, BN for GEMM 2)) over 64-row
// blocks; blocks past meta[1] and odd blocks of an expert exit. Arguments as moe_gemm*_ plus padded_offsets.
#define MOESPEC_WG_GEMM(SUFFIX, T, BN, BLOCK)                                                                          \
    extern "C" __global__ void __launch_bounds__(256, 1) moe_wg_gemm1_##SUFFIX(                                        \
        const char* x, int64_t x_row_bytes, const char* w13, int k_bytes, int inter_size, int top_k,                   \
        int m_tiles_bound, const int32_t* sorted_rows, const int32_t* block_expert, const int32_t* padded_offsets,     \
        const int32_t* meta, int scale_mode, const float* x_scale, int x_scale_per_row, const float* w_scale,          \
        void* inter, int inter_code, float* inter_amax, int amax_per_row) {                                            \
        moespec_wg::wg_gemm<T, true, BN, BLOCK>(x, x_row_bytes, w13, k_bytes, inter_size, top_k, m_tiles_bound,        \
                                                sorted_rows, block_expert, padded_offsets, meta, scale_mode, x_scale,  \
                                                x_scale_per_row, w_scale, inter, inter_code, inter_amax,               \
                                                amax_per_row, nullptr, nullptr);                                       \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256, 1) moe_wg_gemm2_##SUFFIX(                                        \
        const char* inter, int64_t inter_row_bytes, const char* w2, int k_bytes, int hidden_size, int m_tiles_bound,   \
        const int32_t* sorted_rows, const int32_t* block_expert, const int32_t* padded_offsets, const int32_t* meta,   \
        int scale_mode, const float* inter_scale, int inter_scale_per_row, const float* w_scale,                       \
        const float* topk_weights, float* partial) {                                                                   \
        moespec_wg::wg_gemm<T, false, BN, BLOCK>(inter, inter_row_bytes, w2, k_bytes, hidden_size, 1, m_tiles_bound,   \
                                                 sorted_rows, block_expert, padded_offsets, meta, scale_mode,          \
                                                 inter_scale, inter_scale_per_row, w_scale, nullptr, 0, nullptr, 0,    \
                                                 topk_weights, partial);                                               \
    }

MOESPEC_WG_GEMM(bf16, __nv_bfloat16, 256, false)
MOESPEC_WG_GEMM(f16, __half, 256, false)
MOESPEC_WG_GEMM(e4m3, uint8_t, 256, false)
MOESPEC_WG_GEMM(e4m3_b128, uint8_t, 128, true)
MOESPEC_WG_GEMM(f16_b128, __half, 128, true)
