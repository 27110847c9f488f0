package dev.moespec.proposers.draft;

import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.DraftOutput;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A drafter network that keeps every entry it was fed, per sequence, and predicts from ALL of them (the next token is
 * a hash of every cached token and feature), so a proposer that rolls back wrongly drafts different tokens than the
 * oracle. Its output feature for an entry is a fresh one-element array, so tests can check the proposer feeds
 * exactly that array to the next speculative entry.
 */
public final class RecordingNetwork implements DraftNetwork {
    public static final int V = 50;

    /** One cached entry. */
    public record Entry(int token, float[] feature, float[] output) {}

    private final DraftNetworkKind kind;
    public final Map<Integer, List<Entry>> sequences = new HashMap<>();
    public int forwards;
    private int next;

    public RecordingNetwork(DraftNetworkKind kind) {
        this.kind = kind;
    }

    /** The token the network predicts after {@code entries}. */
    public static int predict(List<Entry> entries) {
        long h = 17;
        for (Entry e : entries) h = h * 31 + e.token() * 7 + (e.feature() == null ? 0 : (long) e.feature()[0]);
        return (int) Math.floorMod(h, V);
    }

    /** The {@code k} tokens a greedy drafter feeding itself drafts after a token-only {@code history}, from scratch. */
    public static int[] greedy(int[] history, int k) {
        List<Entry> entries = new ArrayList<>();
        for (int t : history) entries.add(new Entry(t, null, null));
        int[] d = new int[k];
        for (int j = 0; j < k; j++) {
            d[j] = predict(entries);
            entries.add(new Entry(d[j], null, null));
        }
        return d;
    }

    @Override
    public DraftNetworkKind kind() {
        return kind;
    }

    @Override
    public int vocabSize() {
        return V;
    }

    @Override
    public int hiddenSize() {
        return 1;
    }

    @Override
    public int open(int maxEntries) {
        sequences.put(next, new ArrayList<>());
        return next++;
    }

    @Override
    public void release(int sequence) {
        sequences.remove(sequence);
    }

    @Override
    public int length(int sequence) {
        return sequences.get(sequence).size();
    }

    @Override
    public void truncate(int sequence, int length) {
        List<Entry> s = sequences.get(sequence);
        if (length > s.size()) throw new IllegalArgumentException("truncate past the end");
        s.subList(length, s.size()).clear();
    }

    @Override
    public DraftOutput forward(List<DraftChunk> chunks) {
        forwards++;
        float[][] logits = new float[chunks.size()][], hidden = new float[chunks.size()][];
        for (int c = 0; c < chunks.size(); c++) {
            DraftChunk chunk = chunks.get(c);
            List<Entry> s = sequences.get(chunk.sequence());
            float[] last = null;
            for (int j = 0; j < chunk.tokens().length; j++) {
                last = new float[] {1000 + s.size()};
                s.add(new Entry(chunk.tokens()[j], chunk.features() == null ? null : chunk.features()[j], last));
            }
            logits[c] = new float[V];
            logits[c][predict(s)] = 1;
            hidden[c] = last;
        }
        return new DraftOutput(logits, hidden);
    }

    @Override
    public String moeBackend() {
        return "test";
    }

    @Override
    public void close() {}
}
