package dev.moespec.engine.cuda;

/**
 * One round of greedy speculation with drafting fused behind verification ({@link CudaFeatureHead#draftAfter}), per
 * chunk of the verification pass.
 *
 * @param accepted how many of its drafts the target accepted
 * @param bonus    the target's token after them (the correction at the first rejection, or the bonus token)
 * @param drafts   the next round's drafts
 */
public record FusedRound(int[] accepted, int[] bonus, int[][] drafts) {}
