package dev.moespec.api.proposer;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A proposer's answer for one step: per sequence 0..k draft tokens, and optionally the draft distribution each
 * token was sampled from.
 *
 * <p>{@code draftProbabilities}, when present, has one row per draft token of the whole batch, sequence after
 * sequence in batch order (vLLM's {@code draft_probs [T, V]} layout), every row of vocabulary length. When it is
 * empty (n-gram, argmax heads) the rejection sampler treats each draft token as certain: p_draft = 1.
 *
 * @param draftTokens        one array per sequence; an empty array means no proposal for that sequence this step
 * @param draftProbabilities the draft distributions, or empty when the proposer has none
 */
public record Proposal(List<int[]> draftTokens, Optional<float[][]> draftProbabilities) {

    public Proposal {
        Objects.requireNonNull(draftTokens, "draftTokens");
        Objects.requireNonNull(draftProbabilities, "draftProbabilities (use Optional.empty())");
        int total = 0;
        for (int i = 0; i < draftTokens.size(); i++) {
            int[] tokens = draftTokens.get(i);
            if (tokens == null) {
                throw new IllegalArgumentException("draft tokens of sequence " + i
                        + " are null; use an empty array for no proposal");
            }
            total += tokens.length;
        }
        draftTokens = List.copyOf(draftTokens);
        if (draftProbabilities.isPresent()) {
            checkProbabilityRows(draftProbabilities.get(), total);
        }
    }

    /** A proposal without draft distributions (p_draft = 1 for every token). */
    public static Proposal tokensOnly(List<int[]> draftTokens) {
        return new Proposal(draftTokens, Optional.empty());
    }

    /** Number of sequences answered. */
    public int batchSize() {
        return draftTokens.size();
    }

    /** Draft tokens proposed for sequence {@code index} (possibly none). */
    public int[] tokens(int index) {
        return draftTokens.get(index);
    }

    /** Draft tokens proposed over the whole batch. */
    public int totalDraftTokens() {
        return draftTokens.stream().mapToInt(t -> t.length).sum();
    }

    /** The draft distribution rows of sequence {@code index}, one per draft token, or empty when there are none. */
    public Optional<float[][]> probabilities(int index) {
        Objects.checkIndex(index, draftTokens.size());
        return draftProbabilities.map(rows -> {
            int from = 0;
            for (int i = 0; i < index; i++) from += draftTokens.get(i).length;
            return Arrays.copyOfRange(rows, from, from + draftTokens.get(index).length);
        });
    }

    /**
     * Checks that this proposal answers {@code request} within {@code context}'s limits: one entry per sequence,
     * at most k tokens each, ids inside the vocabulary, and history plus draft no longer than max_model_len.
     * The engine calls it on every third-party proposer's output so a buggy plugin fails here, not in the sampler.
     *
     * @param method the proposer's method name, for the message
     * @throws IllegalStateException naming the proposer, the sequence and the violated limit
     */
    public void requireValidFor(String method, ProposalRequest request, ProposerContext context) {
        String who = "Proposer '" + method + "' ";
        if (batchSize() != request.batchSize()) {
            throw new IllegalStateException(who + "returned " + batchSize() + " proposals for a batch of "
                    + request.batchSize() + " sequences; it must return exactly one entry per sequence");
        }
        int k = context.numSpeculativeTokens();
        for (int i = 0; i < batchSize(); i++) {
            int[] tokens = draftTokens.get(i);
            if (tokens.length > k) {
                throw new IllegalStateException(who + "proposed " + tokens.length + " tokens for sequence " + i
                        + " but num_speculative_tokens is " + k);
            }
            long length = (long) request.history(i).length + tokens.length;
            if (tokens.length > 0 && length > context.maxModelLen()) {
                throw new IllegalStateException(who + "proposed past max_model_len=" + context.maxModelLen()
                        + " for sequence " + i + " (history " + request.history(i).length + " + draft "
                        + tokens.length + ")");
            }
            for (int token : tokens) {
                if (token < 0 || token >= context.vocabSize()) {
                    throw new IllegalStateException(who + "proposed token id " + token + " for sequence " + i
                            + ", outside the vocabulary [0, " + context.vocabSize() + ")");
                }
            }
        }
        draftProbabilities.ifPresent(rows -> {
            if (rows.length > 0 && rows[0].length != context.vocabSize()) {
                throw new IllegalStateException(who + "returned draft probabilities over " + rows[0].length
                        + " tokens but the vocabulary has " + context.vocabSize());
            }
        });
    }

    private static void checkProbabilityRows(float[][] rows, int totalTokens) {
        if (rows.length != totalTokens) {
            throw new IllegalArgumentException("draftProbabilities has " + rows.length + " rows but the proposal has "
                    + totalTokens + " draft tokens; give one row per draft token, sequence after sequence");
        }
        for (int r = 0; r < rows.length; r++) {
            float[] row = rows[r];
            if (row == null || row.length == 0) {
                throw new IllegalArgumentException("draftProbabilities row " + r + " is " + (row == null ? "null" : "empty")
                        + "; every row must be a distribution over the whole vocabulary");
            }
            if (row.length != rows[0].length) {
                throw new IllegalArgumentException("draftProbabilities row " + r + " has length " + row.length
                        + " but row 0 has " + rows[0].length + "; every row must cover the whole vocabulary");
            }
        }
    }
}
