// Routing and alignment for triton's block-aligned grouped-GEMM fused MoE (the algorithm of vLLM's
// Triton fused_moe, written in CUDA C++). Two launches precede the grouped GEMMs:
//   1. moe_softmax_topk:      router logits [M, E] -> top-k expert ids and weights per token
//   2. moe_align_histogram:   top-k ids -> tokens per expert and block-aligned row offsets per expert,
//                             the histogram step of vLLM's moe_align_block_size
// Kernels are extern "C" so the Java host code finds them by plain name in the module's fatbin.

#include <climits>
#include <cstdint>

namespace moespec_routing {

constexpr int kWarp = 32;
// One warp per token; lane l owns experts l, l+32, l+64, ... so E <= 1024 means at most 32 values
// per lane, kept in registers (the loops below are fully unrolled so the array never spills).
constexpr int kMaxPerLane = 32;
constexpr int kMaxExperts = kWarp * kMaxPerLane;  // 1024

// Argmax across the warp; on equal values the lower expert index wins (matches the CPU reference).
__device__ __forceinline__ void warp_argmax(float& value, int& index) {
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        float other_value = __shfl_xor_sync(0xffffffffu, value, offset);
        int other_index = __shfl_xor_sync(0xffffffffu, index, offset);
        if (other_value > value || (other_value == value && other_index < index)) {
            value = other_value;
            index = other_index;
        }
    }
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

}  // namespace moespec_routing

// Softmax over E experts in fp32, then the top_k most probable experts of each token, in descending
// probability (ties -> lower expert index). With renormalize != 0 the k weights are divided by their
// sum (Qwen3-MoE norm_topk_prob, Mixtral); otherwise they are the softmax probabilities.
//   logits        [num_tokens, num_experts] fp32, row-major
//   topk_ids      [num_tokens, top_k] int32 out
//   topk_weights  [num_tokens, top_k] fp32 out
// Launch: any block size that is a multiple of 32; grid = ceil(num_tokens / (blockDim.x / 32)).
// Requires 1 <= num_experts <= 1024 and 1 <= top_k <= min(32, num_experts) (the provider checks).
extern "C" __global__ void moe_softmax_topk(const float* __restrict__ logits, int num_tokens, int num_experts,
                                            int top_k, int renormalize, int32_t* __restrict__ topk_ids,
                                            float* __restrict__ topk_weights) {
    using namespace moespec_routing;
    const int lane = threadIdx.x % kWarp;
    const int64_t token = (int64_t)blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
    if (token >= num_tokens) return;  // whole warp leaves together: shuffles stay convergent
    const float* row = logits + token * num_experts;

    float p[kMaxPerLane];
    float local_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        const int e = lane + j * kWarp;
        p[j] = e < num_experts ? row[e] : -INFINITY;
        local_max = fmaxf(local_max, p[j]);
    }
    const float row_max = warp_max(local_max);
    float local_sum = 0.f;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        const int e = lane + j * kWarp;
        p[j] = e < num_experts ? expf(p[j] - row_max) : 0.f;
        local_sum += p[j];
    }
    const float inv_sum = 1.f / warp_sum(local_sum);
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) p[j] *= inv_sum;

    // k rounds of warp argmax; a taken expert is masked out of its lane by one bit.
    uint32_t taken = 0;
    float chosen_weight = 0.f;  // lane r keeps the weight of the r-th choice
    int chosen_id = 0;
    float chosen_sum = 0.f;
    for (int r = 0; r < top_k; ++r) {
        float best = -1.f;  // probabilities are >= 0, so any real expert beats this
        int best_index = INT32_MAX;
#pragma unroll
        for (int j = 0; j < kMaxPerLane; ++j) {
            const int e = lane + j * kWarp;
            // strict '>' keeps the lower index within a lane, since e grows with j
            if (e < num_experts && !(taken >> j & 1u) && p[j] > best) {
                best = p[j];
                best_index = e;
            }
        }
        warp_argmax(best, best_index);
        if (best_index % kWarp == lane) taken |= 1u << (best_index / kWarp);
        if (lane == r) {
            chosen_weight = best;
            chosen_id = best_index;
        }
        chosen_sum += best;
    }
    if (lane < top_k) {
        const float w = renormalize ? chosen_weight / chosen_sum : chosen_weight;
        topk_ids[token * top_k + lane] = chosen_id;
        topk_weights[token * top_k + lane] = w;
    }
}

// The histogram and offsets of the alignment step: for every expert, how many (token, slot) pairs
// were routed to it, and where its rows start once each expert's rows are padded up to a multiple of
// block_size (the M tile of the grouped GEMM, so that no tile mixes two experts).
//   topk_ids         [num_assignments] int32 (num_tokens * top_k), each in [0, num_experts)
//   expert_counts    [num_experts] int32 out: tokens routed to each expert
//   padded_offsets   [num_experts + 1] int32 out: exclusive prefix sum of counts rounded up to
//                    block_size; padded_offsets[num_experts] is the total padded row count
// Launch: ONE block of 1024 threads (one thread per expert for the scan). Requires
// 1 <= num_experts <= 1024 and block_size >= 1. Ids outside [0, num_experts) are not counted.
extern "C" __global__ void __launch_bounds__(1024)
moe_align_histogram(const int32_t* __restrict__ topk_ids, int num_assignments, int num_experts, int block_size,
                    int32_t* __restrict__ expert_counts, int32_t* __restrict__ padded_offsets) {
    using namespace moespec_routing;
    __shared__ int32_t counts[kMaxExperts];
    __shared__ int32_t warp_totals[kMaxExperts / kWarp];
    const int t = threadIdx.x;
    for (int e = t; e < kMaxExperts; e += blockDim.x) counts[e] = 0;
    __syncthreads();
    for (int i = t; i < num_assignments; i += blockDim.x) {
        const int32_t e = topk_ids[i];
        if (e >= 0 && e < num_experts) atomicAdd(&counts[e], 1);
    }
    __syncthreads();

    // Block-wide exclusive scan of the padded counts: warp scans, then a scan of the warp totals.
    const int count = t < num_experts ? counts[t] : 0;
    const int padded = (count + block_size - 1) / block_size * block_size;
    const int lane = t % kWarp, warp = t / kWarp;
    int inclusive = padded;
#pragma unroll
    for (int offset = 1; offset < kWarp; offset *= 2) {
        const int up = __shfl_up_sync(0xffffffffu, inclusive, offset);
        if (lane >= offset) inclusive += up;
    }
    if (lane == kWarp - 1) warp_totals[warp] = inclusive;
    __syncthreads();
    if (warp == 0) {
        const int num_warps = blockDim.x / kWarp;
        int total = lane < num_warps ? warp_totals[lane] : 0;
#pragma unroll
        for (int offset = 1; offset < kWarp; offset *= 2) {
            const int up = __shfl_up_sync(0xffffffffu, total, offset);
            if (lane >= offset) total += up;
        }
        if (lane < num_warps) warp_totals[lane] = total;  // now inclusive over warps
    }
    __syncthreads();
    const int exclusive = inclusive - padded + (warp > 0 ? warp_totals[warp - 1] : 0);
    if (t < num_experts) {
        expert_counts[t] = count;
        padded_offsets[t] = exclusive;
    }
    if (t == num_experts - 1) padded_offsets[num_experts] = exclusive + padded;
}
