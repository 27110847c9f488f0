package dev.moespec.engine.spec;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs the rejection sampler over one verification step of a batch: on the host ({@link #host()}, the
 * {@link RejectionSampler}) or on the GPU ({@code dev.moespec.engine.spec.gpu.GpuVerifier}, the speculative loop's
 * choice when its target runs there).
 */
public interface BatchVerifier extends AutoCloseable {

    /**
     * One result per sequence, in order.
     *
     * @param batch   each sequence's drafts, drafter probabilities and target probabilities
     * @param greedy  argmax verification; otherwise probabilistic, drawing from {@code randoms}
     * @param randoms each sequence's generator (probabilistic only)
     */
    List<VerificationResult> verify(List<Verification> batch, boolean greedy, List<SplittableRandom> randoms);

    /** Where it runs ({@code cpu} or {@code gpu}), for reports. */
    String where();

    @Override
    default void close() {}

    /** The CPU rejection sampler, sequence by sequence. */
    static BatchVerifier host() {
        return new BatchVerifier() {
            @Override
            public List<VerificationResult> verify(List<Verification> batch, boolean greedy, List<SplittableRandom> randoms) {
                List<VerificationResult> out = new ArrayList<>(batch.size());
                for (int i = 0; i < batch.size(); i++) {
                    out.add(greedy ? RejectionSampler.greedy(batch.get(i))
                            : RejectionSampler.probabilistic(batch.get(i), randoms.get(i)));
                }
                return out;
            }

            @Override
            public String where() {
                return "cpu";
            }
        };
    }
}
