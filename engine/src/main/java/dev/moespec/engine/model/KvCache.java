package dev.moespec.engine.model;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Host fp32 K/V storage for every layer, paged in blocks of {@link #BLOCK} tokens and sized from a memory budget.
 * A sequence reserves the blocks for its whole length (prompt + new tokens) when it opens, so a request either
 * fits up front or is refused with {@link KvCacheCapacityException} — never an out-of-memory mid-generation.
 * Not thread-safe: one runner owns it.
 */
public final class KvCache {
    /** Tokens per block. */
    public static final int BLOCK = 16;

    private final int layers;
    private final int kvWidth;
    private final int blocks;
    private final long budgetBytes;
    private final float[][] k;
    private final float[][] v;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private final Map<Integer, Sequence> sequences = new HashMap<>();
    private int nextId;

    /** One sequence's blocks and how many of its tokens are cached. */
    static final class Sequence {
        final int[] blocks;
        final int capacity;
        int length;

        /** @param capacity the tokens the sequence asked for (its blocks may hold a few more) */
        Sequence(int[] blocks, int capacity) {
            this.blocks = blocks;
            this.capacity = capacity;
        }

        int slot(int position) {
            return blocks[position / BLOCK] * BLOCK + position % BLOCK;
        }
    }

    /**
     * @param layers      decoder layers
     * @param kvWidth     {@code num_key_value_heads * head_dim}
     * @param budgetBytes memory for K and V of all layers
     */
    public KvCache(int layers, int kvWidth, long budgetBytes) {
        this.layers = layers;
        this.kvWidth = kvWidth;
        this.budgetBytes = budgetBytes;
        long perBlock = bytesPerToken(layers, kvWidth) * BLOCK;
        long n = budgetBytes / perBlock;
        // a float[] holds at most 2^31-1 elements per layer
        long maxBlocks = (Integer.MAX_VALUE - 8L) / ((long) BLOCK * kvWidth);
        if (n < 1) {
            throw new KvCacheCapacityException("KV-cache budget " + budgetBytes + " bytes is below one block of "
                    + BLOCK + " tokens (" + perBlock + " bytes for " + layers + " layers); raise --kv-cache-memory");
        }
        this.blocks = (int) Math.min(n, maxBlocks);
        k = new float[layers][blocks * BLOCK * kvWidth];
        v = new float[layers][blocks * BLOCK * kvWidth];
        for (int b = 0; b < blocks; b++) free.add(b);
    }

    /** fp32 K and V of every layer for one token. */
    public static long bytesPerToken(int layers, int kvWidth) {
        return 2L * layers * kvWidth * Float.BYTES;
    }

    /** Tokens the whole cache holds. */
    public int capacityTokens() {
        return blocks * BLOCK;
    }

    public int freeTokens() {
        return free.size() * BLOCK;
    }

    /**
     * Reserves room for {@code maxTokens} tokens and returns the sequence id.
     *
     * @throws KvCacheCapacityException when that many tokens are not free
     */
    public int open(int maxTokens) {
        if (maxTokens < 1) throw new IllegalArgumentException("a sequence needs at least 1 token, got " + maxTokens);
        int need = (maxTokens + BLOCK - 1) / BLOCK;
        if (need > free.size()) {
            throw new KvCacheCapacityException("request needs KV cache for " + maxTokens + " tokens ("
                    + need * BLOCK * bytesPerToken(layers, kvWidth) + " bytes) but only " + freeTokens() + " of "
                    + capacityTokens() + " tokens are free (budget " + budgetBytes + " bytes, "
                    + bytesPerToken(layers, kvWidth) + " bytes per token); raise --kv-cache-memory, lower --max-tokens,"
                    + " or run fewer sequences at once");
        }
        int[] ids = new int[need];
        for (int i = 0; i < need; i++) ids[i] = free.poll();
        int id = nextId++;
        sequences.put(id, new Sequence(ids, maxTokens));
        return id;
    }

    /** Frees a sequence's blocks. */
    public void release(int id) {
        Sequence s = sequences.remove(id);
        if (s != null) for (int b : s.blocks) free.add(b);
    }

    Sequence sequence(int id) {
        Sequence s = sequences.get(id);
        if (s == null) throw new IllegalArgumentException("sequence " + id + " is not open (released, or never opened)");
        return s;
    }

    /** Tokens cached for sequence {@code id}. */
    public int length(int id) {
        return sequence(id).length;
    }

    /**
     * Forgets every cached token of sequence {@code id} from position {@code length} on (rollback after a
     * speculative rejection). Its blocks stay reserved; the next step overwrites the dropped slots.
     *
     * @throws IllegalArgumentException when {@code length} is negative or above the cached length
     */
    public void truncate(int id, int length) {
        Sequence s = sequence(id);
        if (length < 0 || length > s.length) {
            throw new IllegalArgumentException("cannot truncate sequence " + id + " to " + length + " tokens: it holds "
                    + s.length + " (a rollback keeps 0.." + s.length + ")");
        }
        s.length = length;
    }

    /**
     * Marks {@code tokens} more tokens of sequence {@code id} as cached, after a forward pass wrote their K/V at
     * positions {@code length .. length + tokens - 1}.
     *
     * @throws IllegalArgumentException when they exceed the tokens the sequence reserved
     */
    public void advance(int id, int tokens) {
        Sequence s = sequence(id);
        if (s.length + tokens > s.capacity) {
            throw new IllegalArgumentException("sequence " + id + " reserved " + s.capacity + " tokens and holds "
                    + s.length + "; " + tokens + " more do not fit (open it with a larger maxTokens)");
        }
        s.length += tokens;
    }

    float[] keys(int layer) {
        return k[layer];
    }

    float[] values(int layer) {
        return v[layer];
    }

    int kvWidth() {
        return kvWidth;
    }

    int layers() {
        return layers;
    }
}
