package dev.moespec.proposers.draft;

import dev.moespec.api.proposer.DraftNetwork;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The per-sequence caches a proposer keeps in its {@link DraftNetwork}: opened on a sequence's first proposal,
 * rolled back by comparison with the tokens they hold (rejected drafts disappear, accepted ones are kept without
 * being recomputed), released with the sequence. One instance per proposer; not thread-safe.
 */
public final class DraftSequences implements AutoCloseable {
    private static final int[] NONE = new int[0];

    private final DraftNetwork network;
    private final int capacity;
    private final Map<Long, Entry> byId = new HashMap<>();

    /** One sequence's cache handle and the tokens its entries hold, in order. */
    public static final class Entry {
        private final int handle;
        private int[] tokens = NONE;

        private Entry(int handle) {
            this.handle = handle;
        }

        public int handle() {
            return handle;
        }

        /** Records one more entry, fed after the last rollback. */
        public void append(int token) {
            int[] t = Arrays.copyOf(tokens, tokens.length + 1);
            t[tokens.length] = token;
            tokens = t;
        }
    }

    public DraftSequences(DraftNetwork network, int capacity) {
        this.network = network;
        this.capacity = capacity;
    }

    /** The entry of {@code sequenceId}, opening a cache of {@code capacity} entries on first use. */
    public Entry entry(long sequenceId) {
        return byId.computeIfAbsent(sequenceId, id -> new Entry(network.open(capacity)));
    }

    /**
     * Truncates the cache to the prefix it shares with {@code tokens}, at most {@code maxKeep} entries, and records
     * {@code tokens} as what the cache will hold once the rest is fed. Returns how many entries were kept.
     */
    public int rollBack(Entry entry, int[] tokens, int maxKeep) {
        int keep = Math.min(commonPrefix(entry.tokens, tokens), maxKeep);
        network.truncate(entry.handle, keep);
        entry.tokens = tokens;
        return keep;
    }

    public void release(long sequenceId) {
        Entry e = byId.remove(sequenceId);
        if (e != null) network.release(e.handle);
    }

    /** Releases every sequence, then the network. */
    @Override
    public void close() {
        byId.values().forEach(e -> network.release(e.handle));
        byId.clear();
        network.close();
    }

    static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
