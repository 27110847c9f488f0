package dev.moespec.engine.model;

import java.util.Arrays;

/**
 * What one {@link ModelRunner#step} returns: logits for the requested rows of each chunk, and the last layer's
 * output {@code h} (before the final norm: the feature EAGLE/MTP heads consume) for every row.
 */
public final class StepOutput {
    private final int vocab;
    private final int hidden;
    private final float[][] logits;
    private final float[][] features;

    /** Per chunk: its logits rows ({@code rows × V}) and its features ({@code tokens × H}), or null features. */
    public StepOutput(int vocab, int hidden, float[][] logits, float[][] features) {
        this.vocab = vocab;
        this.hidden = hidden;
        this.logits = logits;
        this.features = features;
    }

    /** Rows of logits chunk {@code c} has: its token count when it asked for all, else 1. */
    public int rows(int c) {
        return logits[c].length / vocab;
    }

    /** Logits of row {@code row} of chunk {@code c} (a copy, length V). */
    public float[] logits(int c, int row) {
        return Arrays.copyOfRange(logits[c], row * vocab, (row + 1) * vocab);
    }

    /** Logits of the last token of chunk {@code c}. */
    public float[] lastLogits(int c) {
        return logits(c, rows(c) - 1);
    }

    /** The same logits without features (what {@link ModelRunner#stepLogitsOnly} returns). */
    public StepOutput withoutFeatures() {
        return new StepOutput(vocab, hidden, logits, null);
    }

    /**
     * {@code h} of token {@code row} of chunk {@code c} (a copy, length H).
     *
     * @throws IllegalStateException when the step brought no features back ({@link ModelRunner#stepLogitsOnly})
     */
    public float[] feature(int c, int row) {
        if (features == null) {
            throw new IllegalStateException("this step brought back logits only (ModelRunner.stepLogitsOnly); run"
                    + " ModelRunner.step to read features");
        }
        return Arrays.copyOfRange(features[c], row * hidden, (row + 1) * hidden);
    }
}
