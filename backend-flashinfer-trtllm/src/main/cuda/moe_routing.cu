// Routing and permutation for flashinfer_trtllm's MoE, entirely on the device (no host round trip).
//   fi_route_topk : router logits [M, E] -> top-k expert ids [M, k] and weights [M, k], with exactly the semantics
//                   of spi-moe's cpu_reference ExpertRouter (softmax top-k (+renormalise); sigmoid grouped top-k
//                   with correction bias, unbiased weights, renormalise, routed scaling factor). Ties go to the
//                   lower index.
//   fi_align      : ids [M*k] -> rows sorted by expert, each expert's run padded to a multiple of BM (the GEMM
//                   tile height), the expert of every BM block, and the counts the GEMMs read from device memory.
// Kernels are extern "C" so the Java host finds them by plain name.

#include <cstdint>
#include <cuda_bf16.h>

namespace moespec_fi {

constexpr int kWarp = 32;

__device__ __forceinline__ float logit_at(const void* logits, int is_bf16, int64_t idx) {
    return is_bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(logits)[idx])
                   : static_cast<const float*>(logits)[idx];
}

// Warp-wide argmax over v[0, n) skipping entries equal to -inf (taken/disallowed); lower index wins ties.
__device__ __forceinline__ int warp_argmax(const float* v, int n, int lane) {
    float best = -INFINITY;
    int idx = -1;
    for (int i = lane; i < n; i += kWarp) {  // ascending per lane: strict '>' keeps the lowest index
        if (v[i] > best) { best = v[i]; idx = i; }
    }
#pragma unroll
    for (int off = kWarp / 2; off > 0; off /= 2) {
        const float ob = __shfl_xor_sync(0xffffffffu, best, off);
        const int oi = __shfl_xor_sync(0xffffffffu, idx, off);
        if (oi >= 0 && (idx < 0 || ob > best || (ob == best && oi < idx))) { best = ob; idx = oi; }
    }
    return idx;
}

}  // namespace moespec_fi

// One warp per token. Dynamic shared memory: warps_per_block * 4 * E floats.
//   mode 0: softmax top-k (renorm != 0: divide the k weights by their sum)
//   mode 1: sigmoid grouped top-k: num_groups, topk_groups, bias[E], scaling (renorm as above, before scaling)
extern "C" __global__ void fi_route_topk(const void* __restrict__ logits, int is_bf16, int num_tokens, int num_experts,
                                         int topk, int mode, int renorm, int num_groups, int topk_groups, float scaling,
                                         const float* __restrict__ bias, int* __restrict__ ids,
                                         float* __restrict__ weights) {
    using namespace moespec_fi;
    extern __shared__ float route_smem[];
    const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    const int token = blockIdx.x * (blockDim.x / kWarp) + warp;
    if (token >= num_tokens) return;  // whole warp leaves together
    const int E = num_experts;
    float* score = route_smem + (size_t)warp * 4 * E;  // weights are read from here (softmax p / unbiased sigmoid)
    float* sel = score + E;                      // selection values; -inf marks taken or disallowed
    float* group_score = sel + E;                // mode 1 only (num_groups <= E)
    float* kept = group_score + E;               // mode 1 only: 1 for the groups that stay
    const int64_t row = (int64_t)token * E;

    if (mode == 0) {
        float mx = -INFINITY;
        for (int i = lane; i < E; i += kWarp) mx = fmaxf(mx, logit_at(logits, is_bf16, row + i));
#pragma unroll
        for (int off = kWarp / 2; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
        float sum = 0.f;
        for (int i = lane; i < E; i += kWarp) {
            const float p = expf(logit_at(logits, is_bf16, row + i) - mx);
            score[i] = p;
            sum += p;
        }
#pragma unroll
        for (int off = kWarp / 2; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
        for (int i = lane; i < E; i += kWarp) {
            score[i] = score[i] / sum;
            sel[i] = score[i];
        }
    } else {
        for (int i = lane; i < E; i += kWarp) {
            const float s = 1.f / (1.f + expf(-logit_at(logits, is_bf16, row + i)));
            score[i] = s;
            sel[i] = s + bias[i];
        }
        __syncwarp();
        const int group_size = E / num_groups;
        for (int g = lane; g < num_groups; g += kWarp) {  // the sum of each group's top-2 biased scores
            float first = -INFINITY, second = -INFINITY;
            for (int i = g * group_size; i < (g + 1) * group_size; ++i) {
                const float b = sel[i];
                if (b > first) { second = first; first = b; }
                else if (b > second) { second = b; }
            }
            group_score[g] = group_size >= 2 ? first + second : first;
        }
        __syncwarp();
        // keep the best topk_groups groups (ties: lower group index), then disallow every expert of the others
        for (int g = lane; g < num_groups; g += kWarp) kept[g] = 0.f;
        __syncwarp();
        for (int j = 0; j < topk_groups; ++j) {
            const int g = warp_argmax(group_score, num_groups, lane);
            __syncwarp();
            if (lane == 0) { group_score[g] = -INFINITY; kept[g] = 1.f; }
            __syncwarp();
        }
        for (int i = lane; i < E; i += kWarp) {
            if (kept[i / group_size] == 0.f) sel[i] = -INFINITY;
        }
    }
    __syncwarp();

    float wsum = 0.f;
    for (int j = 0; j < topk; ++j) {
        const int e = warp_argmax(sel, E, lane);
        __syncwarp();
        const float w = score[e];
        wsum += w;
        if (lane == 0) {
            sel[e] = -INFINITY;
            ids[(int64_t)token * topk + j] = e;
            weights[(int64_t)token * topk + j] = w;
        }
        __syncwarp();
    }
    if (lane == 0) {
        for (int j = 0; j < topk; ++j) {
            float w = weights[(int64_t)token * topk + j];
            if (renorm) w = w / wsum;
            if (mode == 1) w = w * scaling;
            weights[(int64_t)token * topk + j] = w;
        }
    }
}

// One block (1024 threads, E <= 512). Dynamic shared memory: 3 * E ints.
//   ids          [n] expert of each (token, slot) entry, n = M * k
//   sorted_rows  [capacity] for each padded position, the entry t*k+j it holds, or -1 (padding)
//   block_expert [max_blocks] the expert of each BM-row block
//   meta         [0] number of BM blocks, [1] number of padded rows
extern "C" __global__ void fi_align(const int* __restrict__ ids, int n, int num_experts, int bm,
                                    int* __restrict__ sorted_rows, int* __restrict__ block_expert,
                                    int* __restrict__ meta) {
    extern __shared__ int sh[];
    int* count = sh;
    int* offset = sh + num_experts;
    int* cursor = sh + 2 * num_experts;
    for (int e = threadIdx.x; e < num_experts; e += blockDim.x) { count[e] = 0; cursor[e] = 0; }
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) atomicAdd(&count[ids[i]], 1);
    __syncthreads();
    // Exclusive scan of the per-expert block counts, one expert per thread (E <= 512 < blockDim): a warp scan, then
    // a scan of the 32 warp totals (round 1 ran this serially in one thread).
    __shared__ int warp_first[32];
    __shared__ int total_rows;
    const int e = threadIdx.x, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int nb = e < num_experts ? (count[e] + bm - 1) / bm : 0;
    int incl = nb;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
        const int v = __shfl_up_sync(0xffffffffu, incl, off);
        if (lane >= off) incl += v;
    }
    if (lane == 31) warp_first[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        const int total = lane < (int)(blockDim.x / 32) ? warp_first[lane] : 0;
        int t = total;
#pragma unroll
        for (int off = 1; off < 32; off <<= 1) {
            const int v = __shfl_up_sync(0xffffffffu, t, off);
            if (lane >= off) t += v;
        }
        warp_first[lane] = t - total;
    }
    __syncthreads();
    if (e < num_experts) {
        const int first = warp_first[warp] + incl - nb;
        offset[e] = first * bm;
        for (int b = 0; b < nb; ++b) block_expert[first + b] = e;
        if (e == num_experts - 1) {
            meta[0] = first + nb;
            meta[1] = (first + nb) * bm;
            total_rows = (first + nb) * bm;
        }
    }
    __syncthreads();
    for (int r = threadIdx.x; r < total_rows; r += blockDim.x) sorted_rows[r] = -1;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const int ex = ids[i];
        sorted_rows[offset[ex] + atomicAdd(&cursor[ex], 1)] = i;
    }
}
