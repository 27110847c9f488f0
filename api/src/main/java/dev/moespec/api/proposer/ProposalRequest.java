package dev.moespec.api.proposer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * One step's input to {@link Proposer#propose}: per sequence, its prompt followed by every token generated so far,
 * a stable id, and the target's features produced so far.
 *
 * <p>The arrays are not copied (histories can be long and this runs every step): the engine must not change them
 * while {@code propose} runs, and a proposer must never write to them.
 *
 * <p>{@code targetFeatures.get(i)} holds {@code h_0 .. h_{n-2}} for a history of {@code n} tokens: {@code h_t} is the
 * target's last decoder layer output at position {@code t}, before the final norm (FORMAT.md §5.0). The feature
 * of the last committed token appears only after the next verification pass. An engine that has no features
 * (or a caller that needs none) passes empty lists.
 *
 * @param tokenHistories one token-id array per sequence, in batch order
 * @param sequenceIds    one id per sequence, stable across the steps of one generation, so a stateful proposer
 *                       can keep per-sequence draft state (a draft KV cache); see {@link Proposer#release}
 * @param targetFeatures per sequence, the target features {@code h_0..h_{n-2}} (each of hidden-size length)
 */
public record ProposalRequest(List<int[]> tokenHistories, List<Long> sequenceIds, List<List<float[]>> targetFeatures) {

    public ProposalRequest {
        Objects.requireNonNull(tokenHistories, "tokenHistories");
        Objects.requireNonNull(sequenceIds, "sequenceIds");
        Objects.requireNonNull(targetFeatures, "targetFeatures");
        for (int i = 0; i < tokenHistories.size(); i++) {
            if (tokenHistories.get(i) == null) {
                throw new IllegalArgumentException("token history of sequence " + i + " is null; pass an empty array"
                        + " for a sequence without tokens");
            }
        }
        if (sequenceIds.size() != tokenHistories.size() || targetFeatures.size() != tokenHistories.size()) {
            throw new IllegalArgumentException("a request needs one sequence id and one feature list per history: "
                    + tokenHistories.size() + " histories, " + sequenceIds.size() + " ids, " + targetFeatures.size()
                    + " feature lists");
        }
        if (sequenceIds.stream().distinct().count() != sequenceIds.size()) {
            throw new IllegalArgumentException("sequence ids must be distinct within a request, got " + sequenceIds);
        }
        tokenHistories = List.copyOf(tokenHistories);
        sequenceIds = List.copyOf(sequenceIds);
        // the feature lists are views the engine appends to between steps; wrap, do not copy
        List<List<float[]>> views = new ArrayList<>(targetFeatures.size());
        for (List<float[]> f : targetFeatures) views.add(Collections.unmodifiableList(Objects.requireNonNull(f, "feature list")));
        targetFeatures = List.copyOf(views);
    }

    /** Histories only: sequence ids 0..n-1 and no target features (model-free proposers, tests). */
    public ProposalRequest(List<int[]> tokenHistories) {
        this(tokenHistories, indices(tokenHistories.size()), noFeatures(tokenHistories.size()));
    }

    /** A request for the given histories (ids 0..n-1, no features). */
    public static ProposalRequest of(int[]... tokenHistories) {
        return new ProposalRequest(List.of(tokenHistories));
    }

    /** Number of sequences in the batch. */
    public int batchSize() {
        return tokenHistories.size();
    }

    /** The history of sequence {@code index}. */
    public int[] history(int index) {
        return tokenHistories.get(index);
    }

    /** The stable id of sequence {@code index}. */
    public long sequenceId(int index) {
        return sequenceIds.get(index);
    }

    /** The target features {@code h_0..h_{n-2}} of sequence {@code index} (empty when the engine gives none). */
    public List<float[]> features(int index) {
        return targetFeatures.get(index);
    }

    private static List<Long> indices(int n) {
        List<Long> ids = new ArrayList<>(n);
        for (long i = 0; i < n; i++) ids.add(i);
        return ids;
    }

    private static List<List<float[]>> noFeatures(int n) {
        return Collections.nCopies(n, List.of());
    }
}
