// Token -> expert alignment, on the GPU (no host round trip): the moe_align_block_size step of vLLM's
// Triton fused_moe. After it, every block_size-row tile of the grouped GEMMs belongs to one expert.
#include "moe_common.cuh"

namespace moespec_align {
constexpr int kThreads = 1024;
constexpr int kMaxExperts = 1024;
}  // namespace moespec_align

// One block of 1024 threads.
//   topk_ids         [A] int32, A = M * top_k assignments (a = token * top_k + slot), ids in [0, E)
//   counts           [E] out: assignments per expert
//   padded_offsets   [E + 1] out: exclusive prefix sum of counts rounded up to block_size
//   sorted_rows      [>= padded total] out: assignment index per aligned row, -1 in the padding rows;
//                    an expert's assignments are contiguous from padded_offsets[e] (order inside arbitrary)
//   block_expert     [>= padded total / block_size] out: the expert of each block_size-row tile
//   active_experts   [E] out: the experts with at least one assignment, ascending, then unspecified
//   meta             [4] out: {padded rows, tiles, active experts, A}
// Requires 1 <= E <= 1024.
extern "C" __global__ void __launch_bounds__(1024)
moe_align(const int32_t* __restrict__ topk_ids, int num_assignments, int num_experts, int block_size,
          int32_t* __restrict__ counts, int32_t* __restrict__ padded_offsets, int32_t* __restrict__ sorted_rows,
          int32_t* __restrict__ block_expert, int32_t* __restrict__ active_experts, int32_t* __restrict__ meta) {
    using namespace moespec_align;
    using moe::kWarp;
    __shared__ int32_t s_count[kMaxExperts];
    __shared__ int32_t s_fill[kMaxExperts];
    __shared__ int32_t s_offset[kMaxExperts + 1];
    __shared__ int32_t warp_pad[kThreads / kWarp];
    __shared__ int32_t warp_act[kThreads / kWarp];
    const int t = threadIdx.x, lane = t % kWarp, warp = t / kWarp;
    s_count[t] = 0;
    s_fill[t] = 0;
    __syncthreads();
    for (int i = t; i < num_assignments; i += kThreads) atomicAdd(&s_count[topk_ids[i]], 1);
    __syncthreads();

    // Two block-wide exclusive scans at once: padded counts (row offsets) and "is active" (compaction).
    const int count = t < num_experts ? s_count[t] : 0;
    const int padded = (count + block_size - 1) / block_size * block_size;
    const int active = count > 0 ? 1 : 0;
    int inc_pad = padded, inc_act = active;
#pragma unroll
    for (int o = 1; o < kWarp; o *= 2) {
        const int up_pad = __shfl_up_sync(0xffffffffu, inc_pad, o);
        const int up_act = __shfl_up_sync(0xffffffffu, inc_act, o);
        if (lane >= o) {
            inc_pad += up_pad;
            inc_act += up_act;
        }
    }
    if (lane == kWarp - 1) {
        warp_pad[warp] = inc_pad;
        warp_act[warp] = inc_act;
    }
    __syncthreads();
    if (warp == 0) {
        int p = warp_pad[lane], a = warp_act[lane];
#pragma unroll
        for (int o = 1; o < kWarp; o *= 2) {
            const int up_p = __shfl_up_sync(0xffffffffu, p, o);
            const int up_a = __shfl_up_sync(0xffffffffu, a, o);
            if (lane >= o) {
                p += up_p;
                a += up_a;
            }
        }
        warp_pad[lane] = p;
        warp_act[lane] = a;
    }
    __syncthreads();
    const int ex_pad = inc_pad - padded + (warp > 0 ? warp_pad[warp - 1] : 0);
    const int ex_act = inc_act - active + (warp > 0 ? warp_act[warp - 1] : 0);
    if (t < num_experts) {
        s_offset[t] = ex_pad;
        counts[t] = count;
        padded_offsets[t] = ex_pad;
        if (active) active_experts[ex_act] = t;
        // this expert's tiles, and its padding rows
        for (int b = ex_pad / block_size; b < (ex_pad + padded) / block_size; ++b) block_expert[b] = t;
        for (int r = ex_pad + count; r < ex_pad + padded; ++r) sorted_rows[r] = -1;
    }
    if (t == num_experts - 1) {
        const int total = ex_pad + padded;
        padded_offsets[num_experts] = total;
        meta[0] = total;
        meta[1] = total / block_size;
        meta[2] = ex_act + active;
        meta[3] = num_assignments;
    }
    __syncthreads();
    for (int i = t; i < num_assignments; i += kThreads) {
        const int e = topk_ids[i];
        sorted_rows[s_offset[e] + atomicAdd(&s_fill[e], 1)] = i;
    }
}
