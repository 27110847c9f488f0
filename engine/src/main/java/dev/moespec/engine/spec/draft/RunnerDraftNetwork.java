package dev.moespec.engine.spec.draft;

import dev.moespec.api.proposer.Argmax;
import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.DraftOutput;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;

import java.util.ArrayList;
import java.util.List;

/** A draft model (the draft role's own runner: its checkpoint, KV cache and MoE binding) as a {@link DraftNetwork}. */
public final class RunnerDraftNetwork implements DraftNetwork {
    private final ModelRunner runner;

    public RunnerDraftNetwork(ModelRunner runner) {
        this.runner = runner;
    }

    @Override
    public DraftNetworkKind kind() {
        return DraftNetworkKind.DRAFT_MODEL;
    }

    @Override
    public int vocabSize() {
        return runner.config().vocabSize();
    }

    @Override
    public int hiddenSize() {
        return runner.config().hiddenSize();
    }

    @Override
    public int open(int maxEntries) {
        return runner.open(Math.min(maxEntries, runner.config().maxPositionEmbeddings()));
    }

    @Override
    public void release(int sequence) {
        runner.release(sequence);
    }

    @Override
    public int length(int sequence) {
        return runner.length(sequence);
    }

    @Override
    public void truncate(int sequence, int length) {
        runner.truncate(sequence, length);
    }

    @Override
    public DraftOutput forward(List<DraftChunk> chunks) {
        List<SequenceChunk> steps = new ArrayList<>(chunks.size());
        for (DraftChunk c : chunks) steps.add(SequenceChunk.last(c.sequence(), c.tokens()));
        StepOutput out = runner.step(steps);
        float[][] logits = new float[chunks.size()][], hidden = new float[chunks.size()][];
        for (int c = 0; c < chunks.size(); c++) {
            logits[c] = out.lastLogits(c);
            hidden[c] = out.feature(c, chunks.get(c).tokens().length - 1);
        }
        return new DraftOutput(logits, hidden);
    }

    /**
     * The default chain (each step's argmax fed back as the next token), with every single-token step a
     * {@link ModelRunner#greedyStep}: a GPU runner takes the argmax on the device and brings back the tokens only, not
     * the logits and features {@link #forward} copies to the host. The same graphs and tie rule as a one-token step, so
     * the same drafts. The first step takes {@link ModelRunner#step} when a chunk carries more than one token.
     */
    @Override
    public int[][] forwardGreedy(List<DraftChunk> chunks, int steps) {
        if (steps < 1) throw new IllegalArgumentException("greedy drafting needs at least one step, got " + steps);
        int n = chunks.size();
        int[] sequences = new int[n], next = new int[n];
        boolean single = true;
        for (int c = 0; c < n; c++) {
            sequences[c] = chunks.get(c).sequence();
            single &= chunks.get(c).tokens().length == 1;
        }
        if (single) {
            for (int c = 0; c < n; c++) next[c] = chunks.get(c).tokens()[0];
            next = runner.greedyStep(sequences, next);
        } else {
            List<SequenceChunk> first = new ArrayList<>(n);
            for (DraftChunk c : chunks) first.add(SequenceChunk.last(c.sequence(), c.tokens()));
            StepOutput out = runner.step(first);
            for (int c = 0; c < n; c++) next[c] = Argmax.of(out.lastLogits(c));
        }
        int[][] drafts = new int[n][steps];
        for (int j = 0; j < steps; j++) {
            for (int c = 0; c < n; c++) drafts[c][j] = next[c];
            if (j + 1 < steps) next = runner.greedyStep(sequences, next);
        }
        return drafts;
    }

    @Override
    public String moeBackend() {
        return runner.moeBackend();
    }

    @Override
    public void close() {
        runner.close();
    }
}
