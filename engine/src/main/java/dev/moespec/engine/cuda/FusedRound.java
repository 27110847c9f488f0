package dev.moespec.engine.cuda;

/**
 * One round of greedy speculation with drafting fused behind verification ({@link CudaFeatureHead#draftAfter}), per
 * chunk of the verification pass.
 *
 * @param accepted        how many of its drafts the target accepted
 * @param siblingAccepted whether the last accepted one is the sibling of its depth instead of the chain draft (a
 *                        tree round)
 * @param bonus           the target's token after them (the correction at the first rejection, or the bonus token)
 * @param drafts          the next round's drafts
 * @param siblings        the next round's sibling drafts, sibling j the second choice at chain draft j's depth; null
 *                        when the round drafted chains only
 */
public record FusedRound(int[] accepted, boolean[] siblingAccepted, int[] bonus, int[][] drafts, int[][] siblings) {
    /** The tokens chunk {@code c} commits: its accepted drafts of {@code chain} and {@code siblings}, then the bonus. */
    public int[] committed(int c, int[] chain, int[] siblings) {
        int a = accepted[c];
        int[] tokens = java.util.Arrays.copyOf(chain, a + 1);
        if (siblingAccepted[c]) tokens[a - 1] = siblings[a - 1];
        tokens[a] = bonus[c];
        return tokens;
    }
}
