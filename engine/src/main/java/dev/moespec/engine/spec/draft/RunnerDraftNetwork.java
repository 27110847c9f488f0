package dev.moespec.engine.spec.draft;

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

    @Override
    public String moeBackend() {
        return runner.moeBackend();
    }

    @Override
    public void close() {
        runner.close();
    }
}
