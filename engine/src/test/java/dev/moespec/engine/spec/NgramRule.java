package dev.moespec.engine.spec;

import java.util.Arrays;

/**
 * FORMAT.md §5.5's prompt lookup, written out the plain way as a test oracle (the proposer's own matcher is KMP over
 * the reversed history, on the CPU and on the GPU): the longest suffix n-gram, n = maxN..minN, that occurred earlier
 * in the committed tokens; up to k tokens that followed its most recent earlier occurrence.
 */
final class NgramRule {
    private NgramRule() {}

    /** The drafts for {@code history} (empty when no suffix of at least {@code minN} tokens occurred earlier). */
    static int[] propose(int[] history, int k, int minN, int maxN) {
        int length = history.length;
        for (int n = maxN; n >= minN; n--) {
            if (length < n + 1) continue;
            // occurrences end before the last token: start i with i + n <= length - 1, the most recent first
            for (int i = length - n - 1; i >= 0; i--) {
                if (Arrays.equals(history, i, i + n, history, length - n, length)) {
                    return Arrays.copyOfRange(history, i + n, Math.min(length, i + n + k));
                }
            }
        }
        return new int[0];
    }

    /**
     * Greedy speculative decoding with this rule replayed over a target's greedy output: {@code greedy} is that output
     * for {@code prompt} with at least {@code k - 1} tokens beyond {@code newTokens} (a sequence's last verification
     * still compares its drafts with the target's next tokens). The first token comes from the prefill; each later
     * step proposes, accepts the drafts' prefix that matches, and commits it plus one token.
     *
     * @return {accepted drafts, verification steps}
     */
    static long[] replay(int[] prompt, int[] greedy, int newTokens, int k, int minN, int maxN) {
        int[] committed = Arrays.copyOf(prompt, prompt.length + newTokens);
        committed[prompt.length] = greedy[0];
        int length = prompt.length + 1, produced = 1;
        long accepted = 0, steps = 0;
        while (produced < newTokens) {
            int[] drafts = propose(Arrays.copyOf(committed, length), k, minN, maxN);
            int a = 0;
            while (a < drafts.length && drafts[a] == greedy[produced + a]) a++;
            steps++;
            accepted += a;
            int take = Math.min(a + 1, newTokens - produced);
            System.arraycopy(greedy, produced, committed, length, take);
            length += take;
            produced += take;
        }
        return new long[] {accepted, steps};
    }
}
