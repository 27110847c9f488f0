package dev.moespec.engine.sampling;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Picks the next token from logits as vLLM does: greedy at temperature 0, else softmax(logits / T) restricted by
 * top-k then top-p (the smallest most-likely set whose mass reaches p; ties broken by lower token id), renormalised,
 * and sampled with this sampler's seeded generator. One sampler per sequence keeps seeded runs reproducible
 * regardless of batching.
 */
public final class Sampler {
    private final SamplingParams params;
    private final SplittableRandom random;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = params.seed().isPresent() ? new SplittableRandom(params.seed().getAsLong()) : new SplittableRandom();
    }

    public SamplingParams params() {
        return params;
    }

    /** The next token. */
    public int sample(float[] logits) {
        if (params.isGreedy()) return argmax(logits);
        double[] p = probabilities(logits, params);
        double u = random.nextDouble(), acc = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) continue;
            acc += p[i];
            last = i;
            if (u < acc) return i;
        }
        return last; // rounding left u just above the total
    }

    /** Lowest index of the largest logit. */
    public static int argmax(float[] logits) {
        return dev.moespec.api.proposer.Argmax.of(logits);
    }

    /**
     * The distribution sampling draws from: zero outside the top-k / top-p set, renormalised inside it. At
     * temperature 0 it is one-hot on the argmax.
     */
    public static double[] probabilities(float[] logits, SamplingParams params) {
        int v = logits.length;
        double[] p = new double[v];
        if (params.isGreedy()) {
            p[argmax(logits)] = 1;
            return p;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l / params.temperature());
        double sum = 0;
        for (int i = 0; i < v; i++) sum += p[i] = Math.exp(logits[i] / params.temperature() - max);
        for (int i = 0; i < v; i++) p[i] /= sum;
        Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -p[i]).thenComparingInt(i -> i));
        int keep = params.topK() > 0 ? Math.min(params.topK(), v) : v;
        if (params.topP() < 1) {
            double mass = 0;
            for (int j = 0; j < keep; j++) mass += p[order[j]];
            double acc = 0;
            for (int j = 0; j < keep; j++) {
                acc += p[order[j]] / mass;
                // keep the token that crosses p, drop the rest (vLLM / HF top-p)
                if (acc >= params.topP()) {
                    keep = j + 1;
                    break;
                }
            }
        }
        double kept = 0;
        for (int j = 0; j < keep; j++) kept += p[order[j]];
        double[] out = new double[v];
        for (int j = 0; j < keep; j++) out[order[j]] = p[order[j]] / kept;
        return out;
    }
}
