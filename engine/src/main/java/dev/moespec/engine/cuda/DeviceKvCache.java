package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.engine.model.KvCacheCapacityException;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * The GPU runner's paged KV cache: fp32 K and V for every layer in blocks of {@link DecoderKernels#KV_BLOCK} tokens
 * ({@code [layer][block][token][nKV*d]}), sized from a memory budget, block tables kept on the host and uploaded
 * with each step. As on the CPU, a sequence reserves the blocks of its whole length when it opens, so a request
 * fits up front or is refused with {@link KvCacheCapacityException}. Block 0 is never handed out: padding rows of
 * a captured decode graph write there. Not thread-safe: one runner owns it.
 */
final class DeviceKvCache implements AutoCloseable {
    static final int BLOCK = DecoderKernels.KV_BLOCK;

    /** One open sequence: its blocks, its reservation and how many tokens are cached. */
    static final class Sequence {
        final int[] blocks;
        final int capacity;
        int length;

        Sequence(int[] blocks, int capacity) {
            this.blocks = blocks;
            this.capacity = capacity;
        }
    }

    private final int layers, kvWidth, blocks;
    private final long budgetBytes, layerStride;
    private final DeviceBuffer k, v;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private final Map<Integer, Sequence> sequences = new HashMap<>();
    private int nextId;

    DeviceKvCache(CudaContext ctx, int layers, int kvWidth, long budgetBytes) {
        this.layers = layers;
        this.kvWidth = kvWidth;
        this.budgetBytes = budgetBytes;
        long perBlock = bytesPerToken(layers, kvWidth) * BLOCK;
        long n = budgetBytes / perBlock;
        if (n < 2) {
            throw new KvCacheCapacityException("KV-cache budget " + budgetBytes + " bytes is below two blocks of " + BLOCK
                    + " tokens (" + perBlock + " bytes each for " + layers + " layers; one is the padding block of the"
                    + " decode graphs); raise --kv-cache-memory");
        }
        this.blocks = (int) Math.min(n, Integer.MAX_VALUE / 2);
        this.layerStride = (long) blocks * BLOCK * kvWidth;
        DeviceBuffer kb = DeviceBuffer.alloc(ctx, layerStride * layers * 4);
        DeviceBuffer vb;
        try {
            vb = DeviceBuffer.alloc(ctx, layerStride * layers * 4);
        } catch (RuntimeException e) {
            kb.close();
            throw e;
        }
        // zeros: padding rows read block 0 before anything else wrote it only if misused; never garbage/NaN
        kb.fill((byte) 0);
        vb.fill((byte) 0);
        this.k = kb;
        this.v = vb;
        for (int b = 1; b < blocks; b++) free.add(b);
    }

    /** K and V bytes of one token over all layers, fp32. */
    static long bytesPerToken(int layers, int kvWidth) {
        return 2L * layers * kvWidth * 4;
    }

    int blocks() {
        return blocks;
    }

    int open(int maxTokens) {
        if (maxTokens < 1) throw new IllegalArgumentException("a sequence needs room for at least one token, got " + maxTokens);
        int need = (maxTokens + BLOCK - 1) / BLOCK;
        if (need > free.size()) {
            throw new KvCacheCapacityException("request needs KV cache for " + maxTokens + " tokens (" + (long) need * BLOCK
                    * bytesPerToken(layers, kvWidth) + " bytes) but only " + (long) free.size() * BLOCK + " of "
                    + (long) (blocks - 1) * BLOCK + " tokens are free on the GPU (budget " + budgetBytes + " bytes, "
                    + bytesPerToken(layers, kvWidth) + " bytes per token); raise --kv-cache-memory, lower --max-tokens,"
                    + " or run fewer sequences at once");
        }
        int[] ids = new int[need];
        for (int i = 0; i < need; i++) ids[i] = free.poll();
        int id = nextId++;
        sequences.put(id, new Sequence(ids, maxTokens));
        return id;
    }

    void release(int id) {
        Sequence s = sequences.remove(id);
        if (s != null) for (int b : s.blocks) free.add(b);
    }

    Sequence sequence(int id) {
        Sequence s = sequences.get(id);
        if (s == null) throw new IllegalArgumentException("sequence " + id + " is not open (released, or never opened)");
        return s;
    }

    /** Tokens cached for sequence {@code id}. */
    int length(int id) {
        return sequence(id).length;
    }

    /**
     * Rollback for speculative decoding: the paged cache is addressed by position, so dropping the tail is setting
     * the length; the next step overwrites the dropped slots.
     */
    void truncate(int id, int length) {
        Sequence s = sequence(id);
        if (length < 0 || length > s.length) {
            throw new IllegalArgumentException("cannot truncate sequence " + id + " to " + length
                    + " tokens: it holds " + s.length + " (a rollback keeps 0.." + s.length + ")");
        }
        s.length = length;
    }

    /** Floats between one layer's keys (or values) and the next's. */
    long layerStride() {
        return layerStride;
    }

    int layers() {
        return layers;
    }

    long keys(int layer) {
        return k.address() + layer * layerStride * 4;
    }

    long values(int layer) {
        return v.address() + layer * layerStride * 4;
    }

    @Override
    public void close() {
        k.close();
        v.close();
    }
}
