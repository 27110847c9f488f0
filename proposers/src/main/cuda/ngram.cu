// Prompt-lookup (n-gram) drafting on the GPU: the device form of proposers/.../ngram/SuffixMatcher + NgramProposer.
//
// Rule (identical to the CPU proposer, which SuffixMatcherPropertyTest pins to the same brute force): take the
// longest n in [min_n, max_n] such that the history's last n tokens also occur ending before the last token; among
// those occurrences take the most recent; propose the up-to-k tokens that followed it, never past max_model_len.
//
// One CTA per sequence. Each thread owns candidate end positions e (the occurrence is h[e-c, e), 1 <= e <= len-1)
// and measures c(e), the common suffix length of h[0, e) and h[0, len), capped at min(max_n, len - 1). The winner is
// the largest (c, e) pair: longest match first, then the most recent end. O(len * max_n / threads) per sequence.

// tokens:  all histories back to back (int32 token ids)
// offsets: [batch + 1] start of each history in tokens; history b is tokens[offsets[b], offsets[b+1])
// out:     [batch][k + 1] ints: out[b][0] = number of proposed tokens (0..k), out[b][1..] the tokens
extern "C" __global__ void ngram_propose(const int* __restrict__ tokens, const int* __restrict__ offsets,
                                         int min_n, int max_n, int k, int max_model_len, int* __restrict__ out) {
    __shared__ unsigned long long s_best;  // (c << 32) | e; 0 = no match of length >= min_n
    const int b = blockIdx.x;
    const int* h = tokens + offsets[b];
    const int len = offsets[b + 1] - offsets[b];
    int* o = out + (long long)b * (k + 1);
    const int budget = min(k, max_model_len - len);
    const int cap = min(max_n, len - 1);  // an earlier occurrence ends before the last token
    if (threadIdx.x == 0) s_best = 0ull;
    __syncthreads();
    if (budget > 0 && cap >= min_n) {
        unsigned long long best = 0ull;
        for (int e = threadIdx.x + 1; e <= len - 1; e += blockDim.x) {
            int c = 0;
            while (c < cap && c < e && h[e - 1 - c] == h[len - 1 - c]) c++;
            if (c >= min_n) {
                unsigned long long key = ((unsigned long long)c << 32) | (unsigned)e;
                if (key > best) best = key;
            }
        }
        if (best != 0ull) atomicMax(&s_best, best);
    }
    __syncthreads();
    const unsigned long long best = s_best;
    int count = 0, start = 0;
    if (best != 0ull) {
        start = (int)(best & 0xffffffffull);  // the token right after the occurrence
        count = min(budget, len - start);
    }
    for (int i = threadIdx.x; i < count; i += blockDim.x) o[1 + i] = h[start + i];
    if (threadIdx.x == 0) o[0] = count;
}
