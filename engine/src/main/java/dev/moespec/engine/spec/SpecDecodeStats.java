package dev.moespec.engine.spec;

import java.util.Arrays;

/**
 * Acceptance metrics with vLLM's definitions: acceptance rate = accepted / drafted tokens; mean acceptance
 * length = 1 + accepted / drafts (it counts the bonus/correction token); per-position rate i = the share of
 * drafts with at least i + 1 accepted tokens. Not thread-safe: one per generation loop.
 */
public final class SpecDecodeStats {
    private final long[] acceptedPerPosition;
    private long drafts;
    private long draftTokens;
    private long accepted;

    public SpecDecodeStats(int maxK) {
        this.acceptedPerPosition = new long[maxK];
    }

    /** Records one verification step of one sequence that drafted {@code k} tokens. */
    public void record(int k, VerificationResult result) {
        if (k > acceptedPerPosition.length) {
            throw new IllegalArgumentException("k=" + k + " exceeds the tracked maximum " + acceptedPerPosition.length);
        }
        if (k == 0) return;
        drafts++;
        draftTokens += k;
        accepted += result.accepted();
        for (int i = 0; i < result.accepted(); i++) acceptedPerPosition[i]++;
    }

    public Snapshot snapshot() {
        double[] perPosition = new double[acceptedPerPosition.length];
        for (int i = 0; i < perPosition.length; i++) perPosition[i] = drafts == 0 ? 0 : acceptedPerPosition[i] / (double) drafts;
        return new Snapshot(drafts, draftTokens, accepted,
                draftTokens == 0 ? 0 : accepted / (double) draftTokens,
                drafts == 0 ? 1 : 1 + accepted / (double) drafts, perPosition);
    }

    /** Immutable numbers, JSON-friendly. */
    public record Snapshot(long drafts, long draftTokens, long acceptedTokens, double acceptanceRate,
                           double meanAcceptanceLength, double[] perPositionAcceptance) {
        public Snapshot {
            perPositionAcceptance = perPositionAcceptance.clone();
        }

        @Override
        public double[] perPositionAcceptance() {
            return perPositionAcceptance.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Snapshot s && s.drafts == drafts && s.draftTokens == draftTokens
                    && s.acceptedTokens == acceptedTokens && Arrays.equals(s.perPositionAcceptance, perPositionAcceptance);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(drafts) * 31 + Arrays.hashCode(perPositionAcceptance);
        }
    }
}
