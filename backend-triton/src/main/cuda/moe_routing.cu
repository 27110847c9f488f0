// Routing for triton's block-aligned grouped-GEMM fused MoE (the algorithm of vLLM's Triton fused_moe,
// written in CUDA C++): router logits [M, E] -> top-k expert ids and weights per token, by
//   moe_softmax_topk            softmax, top-k, optional renormalisation (Mixtral, Qwen3-MoE)
//   moe_sigmoid_grouped_topk    DeepSeek-V3: sigmoid, correction bias, best groups, top-k, scaling
// The token->expert alignment that follows is moe_align.cu.
// Kernels are extern "C" so the Java host code finds them by plain name in the module's fatbin.

#include <climits>
#include <cstdint>
#include <cuda_bf16.h>

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

__device__ __forceinline__ float load_logit(const void* logits, int bf16, int64_t i) {
    return bf16 ? __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(logits)[i])
                : reinterpret_cast<const float*>(logits)[i];
}

}  // namespace moespec_routing

// Softmax over E experts in fp32, then the top_k most probable experts of each token, in descending
// probability (ties -> lower expert index). With renormalize != 0 the k weights are divided by their
// sum (Qwen3-MoE norm_topk_prob, Mixtral); otherwise they are the softmax probabilities.
//   logits        [num_tokens, num_experts] fp32 (or bf16 when logits_bf16 != 0), row-major
//   topk_ids      [num_tokens, top_k] int32 out
//   topk_weights  [num_tokens, top_k] fp32 out
// Launch: any block size that is a multiple of 32; grid = ceil(num_tokens / (blockDim.x / 32)).
// Requires 1 <= num_experts <= 1024 and 1 <= top_k <= min(32, num_experts) (the provider checks).
extern "C" __global__ void moe_softmax_topk(const void* __restrict__ logits, int logits_bf16, int num_tokens,
                                            int num_experts, int top_k, int renormalize,
                                            int32_t* __restrict__ topk_ids, float* __restrict__ topk_weights) {
    using namespace moespec_routing;
    const int lane = threadIdx.x % kWarp;
    const int64_t token = (int64_t)blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
    if (token >= num_tokens) return;  // whole warp leaves together: shuffles stay convergent
    const int64_t row = token * num_experts;

    float p[kMaxPerLane];
    float local_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        const int e = lane + j * kWarp;
        p[j] = e < num_experts ? load_logit(logits, logits_bf16, row + e) : -INFINITY;
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

// DeepSeek-V3 routing, exactly as the CPU reference's ExpertRouter: scores s = sigmoid(logit) in fp32;
// selection uses b = s + correction_bias; the experts split into num_groups contiguous groups, a group
// scores the sum of its two largest b (its only b for a group of one); the topk_groups best groups stay
// (ties -> lower group); top_k experts by b among them (ties -> lower expert); weights are the UNBIASED s
// of the chosen experts, divided by their sum when renormalize, then times routed_scaling.
// Launch: 128 threads (4 warps, one token each), grid = ceil(num_tokens / 4), 4 * 4 KiB of static smem.
// Requires E <= 1024, E % num_groups == 0, num_groups <= 32, top_k <= min(32, topk_groups * E / num_groups).
extern "C" __global__ void __launch_bounds__(128)
moe_sigmoid_grouped_topk(const void* __restrict__ logits, int logits_bf16, int num_tokens, int num_experts,
                         int top_k, int num_groups, int topk_groups, int renormalize, float routed_scaling,
                         const float* __restrict__ correction_bias, int32_t* __restrict__ topk_ids,
                         float* __restrict__ topk_weights) {
    using namespace moespec_routing;
    __shared__ float biased_smem[4][kMaxExperts];
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    const int64_t token = (int64_t)blockIdx.x * 4 + warp;
    if (token >= num_tokens) return;  // whole warp leaves together; no block barrier below
    const int64_t row = token * num_experts;
    float* biased = biased_smem[warp];

    float s[kMaxPerLane], b[kMaxPerLane];
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        const int e = lane + j * kWarp;
        if (e < num_experts) {
            const float x = load_logit(logits, logits_bf16, row + e);
            s[j] = 1.f / (1.f + expf(-x));
            b[j] = s[j] + correction_bias[e];
            biased[e] = b[j];
        } else {
            s[j] = 0.f;
            b[j] = -INFINITY;
        }
    }
    __syncwarp();

    // Lane g scores group g: the sum of its top-2 biased scores, scanned in expert order like the host.
    const int group_size = num_experts / num_groups;
    float group_score = -INFINITY;
    if (lane < num_groups) {
        float first = -INFINITY, second = -INFINITY;
        for (int i = lane * group_size; i < (lane + 1) * group_size; ++i) {
            const float v = biased[i];
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        group_score = group_size >= 2 ? first + second : first;
    }
    uint32_t allowed_groups = 0;
    for (int r = 0; r < topk_groups; ++r) {
        float best = lane < num_groups && !(allowed_groups >> lane & 1u) ? group_score : -INFINITY;
        int best_index = lane < num_groups && !(allowed_groups >> lane & 1u) ? lane : INT32_MAX;
        warp_argmax(best, best_index);
        allowed_groups |= 1u << best_index;
    }

    uint32_t taken = 0;
    float chosen_weight = 0.f, chosen_sum = 0.f;
    int chosen_id = 0;
    for (int r = 0; r < top_k; ++r) {
        float best = -INFINITY;
        int best_index = INT32_MAX;
        float best_score = 0.f;
#pragma unroll
        for (int j = 0; j < kMaxPerLane; ++j) {
            const int e = lane + j * kWarp;
            if (e < num_experts && !(taken >> j & 1u) && (allowed_groups >> (e / group_size) & 1u)
                && (b[j] > best || best_index == INT32_MAX)) {
                best = b[j];
                best_index = e;
                best_score = s[j];
            }
        }
        // carry the unbiased score along with the argmax
        float bv = best;
        int bi = best_index;
        warp_argmax(bv, bi);
        const float score = __shfl_sync(0xffffffffu, best_score, bi % kWarp);
        if (bi % kWarp == lane) taken |= 1u << (bi / kWarp);
        if (lane == r) {
            chosen_weight = score;
            chosen_id = bi;
        }
        chosen_sum += score;
    }
    if (lane < top_k) {
        float w = renormalize ? chosen_weight / chosen_sum : chosen_weight;
        topk_ids[token * top_k + lane] = chosen_id;
        topk_weights[token * top_k + lane] = w * routed_scaling;
    }
}
