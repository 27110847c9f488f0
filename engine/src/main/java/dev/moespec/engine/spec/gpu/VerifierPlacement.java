package dev.moespec.engine.spec.gpu;

import dev.moespec.engine.spec.BatchVerifier;
import dev.moespec.engine.spec.Verification;
import dev.moespec.engine.spec.VerificationResult;

import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.SplittableRandom;

/**
 * Where a speculative session's rejection sampler runs: {@code -Dmoespec.verifier=auto|gpu|cpu} or
 * {@code MOESPEC_VERIFIER} (the property wins), {@code auto} by default.
 *
 * <p>The target's step hands its logits to the host (the loop commits tokens there), so the GPU sampler pays a fixed
 * upload, launch and read-back: 25–30 µs a call on the H100 ({@code SpecKernelsBench}, engine/README.md), 40–50 µs of a
 * batch-1 iteration of the demo target in the loop. The host's cost grows with the step's target probabilities (rows
 * × vocabulary): greedy verification is an argmax over them (3.7 µs at 1 × 5 × 320, 8.4 at 8 × 5 × 320, 96 at
 * 64 × 5 × 320, 100 at 1 × 5 × 151,936), probabilistic verification also draws (37 µs already at 1 × 5 × 320). So
 * {@code auto} verifies a step on the GPU from {@link #GPU_MIN_GREEDY} probabilities when greedy and from
 * {@link #GPU_MIN_PROBABILISTIC} when probabilistic — any step of a real vocabulary — and on the host below that. Both
 * follow the same rules.
 */
public final class VerifierPlacement {
    public static final String PROPERTY = "moespec.verifier";
    public static final String ENV = "MOESPEC_VERIFIER";
    /** Target probabilities in one greedy step from which {@code auto} verifies on the GPU (measured crossover: 12,800–102,400). */
    public static final long GPU_MIN_GREEDY = 1L << 16;
    /** The same for probabilistic steps (the GPU already wins at 1,600). */
    public static final long GPU_MIN_PROBABILISTIC = 1L << 10;

    private VerifierPlacement() {}

    /** The verifier of a session whose target runs on CUDA device {@code cuda} (empty: on the CPU). */
    public static BatchVerifier open(OptionalInt cuda) {
        String p = System.getProperty(PROPERTY);
        String v = (p != null ? p : System.getenv().getOrDefault(ENV, "auto")).strip().toLowerCase(Locale.ROOT);
        boolean gpuUsable = cuda.isPresent() && GpuRejectionSampler.kernelsPresent();
        return switch (v) {
            case "cpu" -> BatchVerifier.host();
            case "gpu" -> {
                if (!gpuUsable) {
                    throw new IllegalStateException(PROPERTY + "=gpu, but " + (cuda.isEmpty() ? "the target runs on the CPU"
                            : "this engine jar has no rejection-sampler kernels (built without nvcc)") + "; use auto or cpu");
                }
                yield GpuVerifier.open(cuda.getAsInt());
            }
            case "auto" -> gpuUsable ? new Sized(GpuVerifier.open(cuda.getAsInt()), BatchVerifier.host()) : BatchVerifier.host();
            default -> throw new IllegalArgumentException("unknown " + PROPERTY + " '" + v + "'; valid values: auto, gpu, cpu");
        };
    }

    /** {@code auto} on a GPU: each step goes to the GPU or the host by its size. */
    static final class Sized implements BatchVerifier {
        private final BatchVerifier gpu, host;

        Sized(BatchVerifier gpu, BatchVerifier host) {
            this.gpu = gpu;
            this.host = host;
        }

        @Override
        public List<VerificationResult> verify(List<Verification> batch, boolean greedy, List<SplittableRandom> randoms) {
            long probabilities = 0;
            for (Verification v : batch) probabilities += (long) v.targetProbs().length * v.targetProbs()[0].length;
            boolean onGpu = probabilities >= (greedy ? GPU_MIN_GREEDY : GPU_MIN_PROBABILISTIC);
            return (onGpu ? gpu : host).verify(batch, greedy, randoms);
        }

        @Override
        public String where() {
            return "auto (gpu from " + GPU_MIN_GREEDY + " target probabilities a greedy step, " + GPU_MIN_PROBABILISTIC
                    + " a probabilistic one; else cpu)";
        }

        @Override
        public void close() {
            try {
                gpu.close();
            } finally {
                host.close();
            }
        }
    }
}
