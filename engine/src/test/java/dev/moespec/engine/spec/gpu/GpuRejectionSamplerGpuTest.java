package dev.moespec.engine.spec.gpu;

import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.engine.spec.RejectionSampler;
import dev.moespec.engine.spec.Verification;
import dev.moespec.engine.spec.VerificationResult;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The GPU rejection sampler against the CPU {@link RejectionSampler} on the same rows and the same uniforms (many
 * seeded random batches, greedy and probabilistic, with and without draft distributions, ties, zeros and
 * p_draft = 0), and a chi-square check that its emitted tokens follow the target distribution.
 */
@Tag("gpu")
class GpuRejectionSamplerGpuTest {

    private CudaContext ctx;
    private CudaStream stream;
    private GpuRejectionSampler sampler;

    @BeforeEach
    void open() {
        CudaAvailability availability = Cuda.available();
        assumeTrue(availability instanceof CudaAvailability.Available,
                () -> "no usable CUDA GPU: " + ((CudaAvailability.Unavailable) availability).reason());
        assumeTrue(GpuRejectionSampler.kernelsPresent(), "the engine jar was built without nvcc (no fatbin)");
        ctx = CudaContext.open(0);
        stream = CudaStream.create(ctx);
        sampler = new GpuRejectionSampler(ctx);
    }

    @AfterEach
    void close() {
        if (sampler != null) sampler.close();
        if (ctx != null) ctx.close();
    }

    /** A random distribution: peaked (softmax of scaled Gaussians) or coarse (small integer weights: ties and zeros). */
    private static float[] distribution(Random r, int vocab) {
        double[] w = new double[vocab];
        boolean coarse = r.nextInt(3) == 0;
        double scale = 0.5 + 4 * r.nextDouble(), sum = 0;
        for (int t = 0; t < vocab; t++) sum += w[t] = coarse ? r.nextInt(4) : Math.exp(scale * r.nextGaussian());
        if (sum == 0) {
            w[r.nextInt(vocab)] = 1;
            sum = 1;
        }
        float[] p = new float[vocab];
        for (int t = 0; t < vocab; t++) p[t] = (float) (w[t] / sum);
        return p;
    }

    private static int argmax(float[] p) {
        int best = 0;
        for (int t = 1; t < p.length; t++) if (p[t] > p[best]) best = t;
        return best;
    }

    private static int draw(float[] p, Random r) {
        double u = r.nextDouble(), acc = 0;
        int last = 0;
        for (int t = 0; t < p.length; t++) {
            if (p[t] <= 0) continue;
            acc += p[t];
            last = t;
            if (u < acc) return t;
        }
        return last;
    }

    private record Case(List<Verification> verifications, List<double[]> uniforms, int maxDrafts, boolean withDraftProbs) {}

    private static Case randomCase(Random r, int vocab, int batch, int maxDrafts, boolean withDraftProbs) {
        List<Verification> vs = new ArrayList<>();
        List<double[]> us = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int n = r.nextInt(maxDrafts + 1);
            float[][] target = new float[n + 1][];
            for (int i = 0; i <= n; i++) target[i] = distribution(r, vocab);
            float[][] draft = withDraftProbs ? new float[n][] : null;
            int[] tokens = new int[n];
            for (int i = 0; i < n; i++) {
                if (withDraftProbs) draft[i] = distribution(r, vocab);
                int how = r.nextInt(10);
                // mostly what a drafter would propose; sometimes the target's argmax (long greedy prefixes), sometimes
                // any token (rejections, p_draft = 0)
                tokens[i] = how < 5 ? (withDraftProbs ? draw(draft[i], r) : draw(target[i], r))
                        : how < 8 ? argmax(target[i]) : r.nextInt(vocab);
            }
            vs.add(new Verification(tokens, draft, target));
            us.add(r.doubles(n + 1).toArray());
        }
        return new Case(vs, us, maxDrafts, withDraftProbs);
    }

    /** Uploads the case's target rows (back to back) and draft rows ([B][K][V], zero padded) and runs the GPU sampler. */
    private List<VerificationResult> onGpu(Case c, VerifyMode mode, int vocab) {
        int batch = c.verifications().size(), k = c.maxDrafts();
        long targetRows = c.verifications().stream().mapToLong(v -> v.k() + 1).sum();
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer target = DeviceBuffer.alloc(ctx, 4L * targetRows * vocab);
             DeviceBuffer draft = DeviceBuffer.alloc(ctx, c.withDraftProbs() ? 4L * batch * k * vocab : 0)) {
            MemorySegment host = arena.allocate(Math.max(4L * targetRows * vocab, 4L * batch * k * vocab));
            long row = 0;
            for (Verification v : c.verifications()) {
                for (float[] p : v.targetProbs()) MemorySegment.copy(p, 0, host, ValueLayout.JAVA_FLOAT, 4L * vocab * row++, vocab);
            }
            target.copyFrom(host.asSlice(0, target.byteSize()));
            if (c.withDraftProbs()) {
                host.fill((byte) 0);
                for (int b = 0; b < batch; b++) {
                    float[][] q = c.verifications().get(b).draftProbs();
                    for (int i = 0; i < q.length; i++) {
                        MemorySegment.copy(q[i], 0, host, ValueLayout.JAVA_FLOAT, 4L * vocab * ((long) b * k + i), vocab);
                    }
                }
                draft.copyFrom(host.asSlice(0, draft.byteSize()));
            }
            List<int[]> drafts = c.verifications().stream().map(Verification::draftTokens).toList();
            return sampler.verify(stream, mode, target.address(), vocab, drafts, k,
                    c.withDraftProbs() ? draft.address() : 0, mode == VerifyMode.PROBABILISTIC ? c.uniforms() : null);
        }
    }

    @Test
    void greedyAndProbabilisticResultsEqualTheCpuSamplerOnRandomBatches() {
        Random r = new Random(20261127);
        int sequences = 0, rejected = 0, allAccepted = 0, zeroDraftProb = 0;
        for (int vocab : new int[]{2, 7, 320, 5000}) {
            for (int trial = 0; trial < 24; trial++) {
                int k = 1 + trial % 4;
                boolean withDraftProbs = trial % 3 != 0;
                Case c = randomCase(r, vocab, 1 + r.nextInt(24), k, withDraftProbs);
                List<VerificationResult> greedy = onGpu(c, VerifyMode.GREEDY, vocab);
                List<VerificationResult> sampled = onGpu(c, VerifyMode.PROBABILISTIC, vocab);
                for (int b = 0; b < c.verifications().size(); b++) {
                    Verification v = c.verifications().get(b);
                    String where = "vocab " + vocab + " trial " + trial + " sequence " + b + " drafts "
                            + Arrays.toString(v.draftTokens()) + " uniforms " + Arrays.toString(c.uniforms().get(b));
                    assertEquals(RejectionSampler.greedy(v), greedy.get(b), "greedy, " + where);
                    VerificationResult want = RejectionSampler.probabilistic(v, new ReplayedUniforms(c.uniforms().get(b)));
                    assertEquals(want, sampled.get(b), "probabilistic, " + where);
                    sequences++;
                    if (want.accepted() < v.k()) rejected++; else allAccepted++;
                    if (v.draftProbs() != null) {
                        for (int i = 0; i < v.k(); i++) if (v.draftProbs()[i][v.draftTokens()[i]] == 0) zeroDraftProb++;
                    }
                }
            }
        }
        assertTrue(rejected > 100 && allAccepted > 100 && zeroDraftProb > 10,
                "coverage: " + rejected + " rejections, " + allAccepted + " all accepted, " + zeroDraftProb + " p_draft = 0");
        System.out.printf("rejection sampler GPU vs CPU: %d sequences equal (greedy and probabilistic); %d rejections,"
                + " %d all accepted, %d drafts with p_draft = 0%n", sequences, rejected, allAccepted, zeroDraftProb);
    }

    @Test
    void emittedTokensFollowTheTargetDistribution() {
        // Fixed target rows p0, p1, p2 and draft rows q0, q1; drafts drawn from q. Speculative sampling must emit
        // position 0 ~ p0, and position 1 ~ p1 among the sequences that accepted draft 0.
        int vocab = 6, k = 2, batch = 40_000;
        float[][] p = {{0.30f, 0.25f, 0.20f, 0.15f, 0.07f, 0.03f}, {0.05f, 0.05f, 0.10f, 0.20f, 0.25f, 0.35f},
                {0.1f, 0.2f, 0.3f, 0.2f, 0.1f, 0.1f}};
        float[][] q = {{0.10f, 0.10f, 0.40f, 0.10f, 0.10f, 0.20f}, {0.30f, 0.20f, 0.10f, 0.10f, 0.10f, 0.20f}};
        Random r = new Random(77);
        List<Verification> vs = new ArrayList<>();
        List<double[]> us = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            vs.add(new Verification(new int[]{draw(q[0], r), draw(q[1], r)}, q, p));
            us.add(r.doubles(k + 1).toArray());
        }
        List<VerificationResult> got = onGpu(new Case(vs, us, k, true), VerifyMode.PROBABILISTIC, vocab);
        long[] first = new long[vocab], second = new long[vocab];
        for (VerificationResult res : got) {
            first[res.tokens()[0]]++;
            if (res.accepted() >= 1) second[res.tokens()[1]]++;
        }
        double chi0 = chiSquare(first, p[0]), chi1 = chiSquare(second, p[1]);
        // 5 degrees of freedom: 20.52 is the 0.999 quantile
        assertTrue(chi0 < 20.52, "position 0 deviates from p0: chi2 = " + chi0 + ", counts " + Arrays.toString(first));
        assertTrue(chi1 < 20.52, "position 1 deviates from p1: chi2 = " + chi1 + ", counts " + Arrays.toString(second));
        System.out.printf("rejection sampler GPU chi-square (df 5, 0.999 quantile 20.52): position 0 %.2f over %d,"
                + " position 1 %.2f over %d%n", chi0, Arrays.stream(first).sum(), chi1, Arrays.stream(second).sum());
    }

    private static double chiSquare(long[] counts, float[] p) {
        long n = Arrays.stream(counts).sum();
        double chi = 0;
        for (int t = 0; t < counts.length; t++) {
            double e = n * (double) p[t];
            chi += (counts[t] - e) * (counts[t] - e) / e;
        }
        return chi;
    }
}
