// Speculative-decoding verification on the GPU: the batched device form of engine/.../spec/RejectionSampler.
//
// One CTA (256 threads) per sequence b with n_b <= K drafts:
//   greedy:        emit argmax(target row i) for i = 0.. while it equals draft i; the first mismatch is the
//                  correction and stops; if all n_b match, the argmax of row n_b is the bonus. Ties -> lowest id.
//   probabilistic: for i < n_b: p_d = draft_probs[i][d_i] (1 when draft_probs is null: a one-hot drafter);
//                  when p_d > 0 take the next uniform u and accept if p_t(d_i) / p_d >= u; on rejection take the
//                  next uniform and draw from normalize(max(p_t - p_d, 0)) (p_t itself if that is all zero), stop;
//                  if all are accepted, draw the bonus from target row n_b with the next uniform.
// Uniforms are consumed in exactly the order the CPU sampler calls nextDouble(), so replaying a sequence's uniforms
// on the CPU gives the same tokens. Draws are inverse-CDF in id order over unnormalised fp64 weights.

namespace rs_detail {
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__device__ double block_sum(double v, double* red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    double total = 0;
    for (int w = 0; w < kWarps; w++) total += red[w];
    return total;
}

// argmax of row[0, v), lowest id on ties; every thread gets it.
__device__ int block_argmax(const float* row, int v, float* fred, int* ired) {
    float best = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < v; i += kThreads) if (row[i] > best) { best = row[i]; idx = i; }
    for (int o = 16; o > 0; o >>= 1) {
        float ob = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (ob > best || (ob == best && oi < idx)) { best = ob; idx = oi; }
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) { fred[threadIdx.x >> 5] = best; ired[threadIdx.x >> 5] = idx; }
    __syncthreads();
    best = fred[0];
    idx = ired[0];
    for (int w = 1; w < kWarps; w++) if (fred[w] > best || (fred[w] == best && ired[w] < idx)) { best = fred[w]; idx = ired[w]; }
    return idx == 0x7fffffff ? 0 : idx;
}

// Inverse-CDF draw in id order from unnormalised weights w(i) >= 0: the first i with w(i) > 0 whose inclusive
// prefix exceeds u * total; rounding past the end falls back to the last i with w(i) > 0; all zero -> -1.
template <class Weight>
__device__ int block_draw(const Weight& w, int v, double u, double* dred, double* scan, int* ired, int* ired2) {
    const int per = (v + kThreads - 1) / kThreads, begin = threadIdx.x * per, end = min(v, begin + per);
    double local = 0;
    for (int i = begin; i < end; i++) local += w(i);
    const double x = u * block_sum(local, dred);
    scan[threadIdx.x] = local;
    __syncthreads();
    for (int off = 1; off < kThreads; off <<= 1) {  // inclusive Hillis-Steele scan
        double add = threadIdx.x >= off ? scan[threadIdx.x - off] : 0;
        __syncthreads();
        scan[threadIdx.x] += add;
        __syncthreads();
    }
    double acc = scan[threadIdx.x] - local;
    int hit = 0x7fffffff, last = -1;
    for (int i = begin; i < end; i++) {
        double wi = w(i);
        if (wi <= 0) continue;
        acc += wi;
        last = i;
        if (x < acc) { hit = i; break; }
    }
    for (int o = 16; o > 0; o >>= 1) {
        hit = min(hit, __shfl_xor_sync(0xffffffffu, hit, o));
        last = max(last, __shfl_xor_sync(0xffffffffu, last, o));
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) { ired[threadIdx.x >> 5] = hit; ired2[threadIdx.x >> 5] = last; }
    __syncthreads();
    int h = ired[0], la = ired2[0];
    for (int w2 = 1; w2 < kWarps; w2++) { h = min(h, ired[w2]); la = max(la, ired2[w2]); }
    return h != 0x7fffffff ? h : la;
}

struct TargetWeight {
    const float* t;
    __device__ double operator()(int i) const { return (double)t[i]; }
};

// max(p_t - p_d, 0); p_d one-hot on the drafted token when q is null
struct RecoveredWeight {
    const float* t;
    const float* q;
    int drafted;
    __device__ double operator()(int i) const {
        double qi = q != nullptr ? (double)q[i] : (i == drafted ? 1.0 : 0.0);
        return fmax((double)t[i] - qi, 0.0);
    }
};
}  // namespace rs_detail

// probabilistic: 0 = greedy, 1 = probabilistic
// max_drafts:    K, the padding of draft_tokens / draft_probs / uniforms / out
// target:        fp32 rows [.., v]: probabilities (after temperature / top-k / top-p) for probabilistic; greedy
//                takes probabilities or logits. Sequence b's rows are target_row0[b] + 0..n_b (target_row0 null:
//                b * (K + 1))
// draft_tokens:  int32 [B][K]; num_drafts: int32 [B] (n_b, clamped to [0, K])
// draft_probs:   fp32 [B][K][v] draft distributions, or null (one-hot drafter, p_draft = 1)
// uniforms:      fp64 [B][K + 1] in [0, 1) (probabilistic only; null for greedy)
// out:           int32 [B][K + 2]: accepted count a, then the a + 1 emitted tokens
extern "C" __global__ void __launch_bounds__(256)
rs_verify(int probabilistic, int max_drafts, int v, const float* __restrict__ target,
          const int* __restrict__ target_row0, const int* __restrict__ draft_tokens,
          const int* __restrict__ num_drafts, const float* __restrict__ draft_probs,
          const double* __restrict__ uniforms, int* __restrict__ out) {
    using namespace rs_detail;
    __shared__ double dred[kWarps];
    __shared__ double scan[kThreads];
    __shared__ float fred[kWarps];
    __shared__ int ired[kWarps];
    __shared__ int ired2[kWarps];
    const int b = blockIdx.x;
    const int n = min(max(num_drafts[b], 0), max_drafts);
    const long long row0 = target_row0 != nullptr ? target_row0[b] : (long long)b * (max_drafts + 1);
    const int* d = draft_tokens + (long long)b * max_drafts;
    int* o = out + (long long)b * (max_drafts + 2);

    if (!probabilistic) {
        int i = 0;
        for (;; i++) {
            int best = block_argmax(target + (row0 + i) * v, v, fred, ired);
            if (threadIdx.x == 0) o[1 + i] = best;
            if (i == n || best != d[i]) break;
        }
        if (threadIdx.x == 0) o[0] = i;
        return;
    }

    const double* u = uniforms + (long long)b * (max_drafts + 1);
    int used = 0;
    for (int i = 0; i < n; i++) {
        const float* t = target + (row0 + i) * v;
        const float* q = draft_probs != nullptr ? draft_probs + ((long long)b * max_drafts + i) * v : nullptr;
        const int di = d[i];
        const float pd = q != nullptr ? q[di] : 1.f;
        if (pd > 0.f && (double)(t[di] / pd) >= u[used++]) {
            if (threadIdx.x == 0) o[1 + i] = di;
            continue;
        }
        RecoveredWeight rw{t, q, di};
        int tok = block_draw(rw, v, u[used], dred, scan, ired, ired2);
        if (tok < 0) tok = block_draw(TargetWeight{t}, v, u[used], dred, scan, ired, ired2);  // p_t == p_d exactly
        if (threadIdx.x == 0) {
            o[1 + i] = tok < 0 ? 0 : tok;
            o[0] = i;
        }
        return;
    }
    int tok = block_draw(TargetWeight{target + (row0 + n) * v}, v, u[used], dred, scan, ired, ired2);
    if (threadIdx.x == 0) {
        o[1 + n] = tok < 0 ? 0 : tok;
        o[0] = n;
    }
}
