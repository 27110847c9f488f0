package dev.moespec.engine.spec;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;
import dev.moespec.engine.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole loop (drafting with a distribution, batched verification, probabilistic rejection sampling, rollback,
 * bonus tokens) must emit sequences distributed exactly as the target's own sampling. A synthetic Markov-chain
 * target over 5 tokens and a deliberately different Markov-chain drafter make the exact distribution of the first
 * 3 tokens computable; Pearson's chi-square on 30,000 samples must stay below the 0.1% critical value, while the
 * same statistic against the drafter's distribution (what a broken sampler accepting every draft would produce)
 * must be far above it, so the test has the power to see a wrong sampler.
 */
class ProbabilisticSpeculativeSamplingTest {
    private static final int V = 5, LEN = 3, SAMPLES = 30_000;
    private static final float[][] TARGET = table(11), DRAFT = table(29);

    @Test
    void speculativeSamplesFollowTheTargetDistribution() {
        for (int k : new int[] {1, 3}) {
            long[] counts = new long[(int) Math.pow(V, LEN)];
            MarkovRunner runner = new MarkovRunner();
            ProposerSettings settings = new ProposerSettings(k, 1, 1, 64, V);
            SpeculativeGenerator g = new SpeculativeGenerator(runner, Optional.of(new MarkovDrafter(k)), "markov",
                    settings, -1, Map.of());
            int batch = 1000;
            for (int from = 0; from < SAMPLES; from += batch) {
                List<int[]> prompts = Collections.nCopies(batch, new int[] {0});
                SamplingParams p = new SamplingParams(1.0, 0, 1, OptionalLong.of(from * 7919L + k), LEN, true);
                SpecGenerationResult r = g.generate(prompts, p, BatchListener.NONE);
                for (int i = 0; i < batch; i++) counts[index(r.tokens(i))]++;
                assertTrue(r.metrics().drafts() > 0);
            }
            double critical = chiSquareCritical(counts.length - 1);
            double vsTarget = chiSquare(counts, exact(TARGET));
            double vsDraft = chiSquare(counts, exact(DRAFT));
            System.out.printf("k=%d: chi2 vs target %.1f, vs draft %.1f, critical(0.1%%) %.1f%n", k, vsTarget, vsDraft, critical);
            assertTrue(vsTarget < critical, "k=" + k + ": chi-square " + vsTarget + " against the target's distribution"
                    + " exceeds the 0.1% critical value " + critical);
            assertTrue(vsDraft > 10 * critical, "the test cannot tell the drafter's distribution apart: " + vsDraft);
        }
    }

    /** Row t: logits of the next token after token t; seeded so target and drafter clearly differ. */
    private static float[][] table(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] t = new float[V][V];
        for (float[] row : t) for (int j = 0; j < V; j++) row[j] = (float) (r.nextDouble() * 3 - 1.5);
        return t;
    }

    private static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    private static double[] exact(float[][] table) {
        double[] p = new double[(int) Math.pow(V, LEN)];
        for (int c = 0; c < p.length; c++) {
            double q = 1;
            int prev = 0;
            for (int j = 0, x = c; j < LEN; j++, x /= V) {
                int t = x % V;
                q *= softmax(table[prev])[t];
                prev = t;
            }
            p[c] = q;
        }
        return p;
    }

    private static int index(int[] tokens) {
        int c = 0;
        for (int j = LEN - 1; j >= 0; j--) c = c * V + tokens[j];
        return c;
    }

    private static double chiSquare(long[] counts, double[] p) {
        long n = 0;
        for (long c : counts) n += c;
        double chi = 0;
        for (int i = 0; i < p.length; i++) {
            double e = p[i] * n;
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    /** Wilson–Hilferty approximation of the chi-square 99.9% quantile. */
    private static double chiSquareCritical(int df) {
        double z = 3.090, a = 2.0 / (9 * df);
        return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
    }

    /** A target whose next-token logits depend only on the current token; keeps lengths for truncation. */
    private static final class MarkovRunner implements ModelRunner {
        private final Map<Integer, Integer> lengths = new HashMap<>();
        private final Map<Integer, Integer> capacity = new HashMap<>();
        private int next;

        @Override
        public ModelConfig config() {
            throw new UnsupportedOperationException("the synthetic runner has no checkpoint");
        }

        @Override
        public int open(int maxTokens) {
            lengths.put(next, 0);
            capacity.put(next, maxTokens);
            return next++;
        }

        @Override
        public void release(int sequence) {
            lengths.remove(sequence);
        }

        @Override
        public int length(int sequence) {
            return lengths.get(sequence);
        }

        @Override
        public void truncate(int sequence, int length) {
            if (length > lengths.get(sequence)) throw new IllegalArgumentException("truncate past the end");
            lengths.put(sequence, length);
        }

        @Override
        public StepOutput step(List<SequenceChunk> chunks) {
            float[][] logits = new float[chunks.size()][], features = new float[chunks.size()][];
            for (int c = 0; c < chunks.size(); c++) {
                SequenceChunk chunk = chunks.get(c);
                int[] t = chunk.tokens();
                int len = lengths.get(chunk.sequence()) + t.length;
                if (len > capacity.get(chunk.sequence())) throw new IllegalArgumentException("over capacity");
                lengths.put(chunk.sequence(), len);
                int from = chunk.allLogits() ? 0 : t.length - 1;
                logits[c] = new float[(t.length - from) * V];
                for (int j = from; j < t.length; j++) System.arraycopy(TARGET[t[j]], 0, logits[c], (j - from) * V, V);
                features[c] = new float[t.length];
            }
            return new StepOutput(V, 1, logits, features);
        }

        @Override
        public String moeBackend() {
            return "none";
        }

        @Override
        public String device() {
            return "cpu";
        }

        @Override
        public void close() {}
    }

    /** Samples k drafts from its own chain and reports their distributions. */
    private static final class MarkovDrafter implements Proposer {
        private final int k;
        private final SplittableRandom random = new SplittableRandom(5);

        MarkovDrafter(int k) {
            this.k = k;
        }

        @Override
        public Proposal propose(ProposalRequest request) {
            List<int[]> drafts = new ArrayList<>();
            List<float[]> rows = new ArrayList<>();
            for (int[] h : request.tokenHistories()) {
                int prev = h[h.length - 1];
                int[] d = new int[k];
                for (int j = 0; j < k; j++) {
                    double[] q = softmax(DRAFT[prev]);
                    float[] row = new float[V];
                    for (int t = 0; t < V; t++) row[t] = (float) q[t];
                    rows.add(row);
                    double u = random.nextDouble(), acc = 0;
                    int pick = V - 1;
                    for (int t = 0; t < V; t++) {
                        acc += q[t];
                        if (u < acc) {
                            pick = t;
                            break;
                        }
                    }
                    d[j] = pick;
                    prev = pick;
                }
                drafts.add(d);
            }
            return new Proposal(drafts, Optional.of(rows.toArray(float[][]::new)));
        }
    }
}
