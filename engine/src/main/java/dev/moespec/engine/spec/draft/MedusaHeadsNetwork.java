package dev.moespec.engine.spec.draft;

import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointException;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.model.HostWeights;
import dev.moespec.engine.model.Linear;
import dev.moespec.engine.model.Ops;

import java.nio.file.Path;

/**
 * Medusa heads (FORMAT.md §5.3, vLLM naming) on the CPU: {@code hn = target.model.norm(h)}, then per head
 * {@code r_i = hn + silu(hn·W_iᵀ + b_i)} and {@code logits_i = r_i·lm_heads.iᵀ}.
 */
public final class MedusaHeadsNetwork implements DraftHeads {
    private final float[] finalNorm;
    private final float eps;
    private final Linear[] blocks, heads;
    private final float[][] bias;
    private final int h;

    private MedusaHeadsNetwork(Checkpoint c, Checkpoint target) {
        h = target.config().hiddenSize();
        int vocab = target.config().vocabSize();
        eps = (float) target.config().rmsNormEps();
        finalNorm = HostWeights.vector(target, "model.norm.weight");
        int n = 0;
        while (c.has("lm_heads." + n + ".weight")) n++;
        if (n == 0) {
            throw new CheckpointException(c.config().path(), "lm_heads.0.weight", "a Medusa checkpoint needs heads"
                    + " lm_heads.{i}.weight and blocks.{i}.layers.0.{weight,bias}; pass the Medusa checkpoint as \"model\"");
        }
        blocks = new Linear[n];
        heads = new Linear[n];
        bias = new float[n][];
        for (int i = 0; i < n; i++) {
            blocks[i] = new Linear(HostWeights.matrix(c, "blocks." + i + ".layers.0.weight"), h, h);
            bias[i] = HostWeights.vector(c, "blocks." + i + ".layers.0.bias");
            heads[i] = new Linear(HostWeights.matrix(c, "lm_heads." + i + ".weight"), vocab, h);
        }
    }

    /** Loads the heads in {@code dir} over the target in {@code targetDir} (its final norm). */
    public static MedusaHeadsNetwork open(Path dir, Path targetDir) {
        try (Checkpoint c = Checkpoint.open(dir, CheckpointLayout.ANY);
             Checkpoint target = Checkpoint.open(targetDir, CheckpointLayout.ANY)) {
            return new MedusaHeadsNetwork(c, target);
        }
    }

    @Override
    public int numHeads() {
        return heads.length;
    }

    @Override
    public float[][] logits(float[] feature) {
        float[] hn = feature.clone();
        Ops.rmsnorm(hn, 0, h, finalNorm, eps);
        float[][] out = new float[heads.length][];
        for (int i = 0; i < heads.length; i++) {
            float[] r = blocks[i].apply(hn, 1);
            for (int j = 0; j < h; j++) r[j] = hn[j] + Ops.silu(r[j] + bias[i][j]);
            out[i] = heads[i].apply(r, 1);
        }
        return out;
    }
}
