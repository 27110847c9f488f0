package dev.moespec.proposers.cuda;

/**
 * The bounds of one n-gram lookup, checked before anything reaches the GPU.
 *
 * @param k           most tokens proposed per sequence ({@code num_speculative_tokens}, ≥ 1)
 * @param minN        shortest suffix n-gram matched ({@code prompt_lookup_min}, ≥ 1)
 * @param maxN        longest suffix n-gram matched ({@code prompt_lookup_max}, ≥ minN)
 * @param maxModelLen history plus proposal never exceed it (≥ 1)
 */
public record NgramLookup(int k, int minN, int maxN, int maxModelLen) {
    public NgramLookup {
        if (k < 1) throw new IllegalArgumentException("n-gram lookup needs k >= 1 tokens to propose, got " + k);
        if (minN < 1) throw new IllegalArgumentException("prompt_lookup_min must be >= 1, got " + minN);
        if (maxN < minN) {
            throw new IllegalArgumentException("prompt_lookup_min=" + minN + " must be <= prompt_lookup_max=" + maxN);
        }
        if (maxModelLen < 1) throw new IllegalArgumentException("max_model_len must be >= 1, got " + maxModelLen);
    }
}
