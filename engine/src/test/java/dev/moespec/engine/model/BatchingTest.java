package dev.moespec.engine.model;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.engine.loader.DemoModels;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several sequences of different lengths in one step; KV cache against full recompute; cache budget errors. */
class BatchingTest {

    @Test
    void batchedDecodeGivesEachSequenceItsOwnGoldenTokensWithMoeSeeingAllRows() {
        int n = 4, steps = 12;
        try (CpuMoeModel m = Models.cpuReference(DemoModels.draft(), QuantScheme.BF16)) {
            int[] seqs = new int[n];
            int[][] got = new int[n][steps];
            List<SequenceChunk> prefill = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int[] ids = Golden.ints(Golden.prompt(i).path("input_ids"));
                seqs[i] = m.open(ids.length + steps);
                prefill.add(SequenceChunk.last(seqs[i], ids));
            }
            int[] rowsSeen = {0};
            m.setTap((layer, rows, router, out) -> { if (layer == 0) rowsSeen[0] = rows; });
            StepOutput out = m.step(prefill);
            for (int t = 0; t < steps; t++) {
                List<SequenceChunk> decode = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    got[i][t] = Golden.argmax(out.lastLogits(i));
                    decode.add(SequenceChunk.last(seqs[i], got[i][t]));
                }
                out = m.step(decode);
                assertEquals(n, rowsSeen[0], "the MoE sees one row per sequence at decode");
            }
            for (int i = 0; i < n; i++) {
                int[] golden = java.util.Arrays.copyOf(Golden.ints(Golden.prompt(i).path("draft").path("tokens")), steps);
                assertArrayEquals(golden, got[i], "sequence " + i);
            }
        }
    }

    @Test
    void batchedRowsAreBitIdenticalToRunningAlone() {
        int[] a = Golden.ints(Golden.prompt(0).path("input_ids")), b = Golden.ints(Golden.prompt(3).path("input_ids"));
        try (CpuMoeModel m = Models.cpuReference(DemoModels.target(), QuantScheme.FP8_BLOCK_128)) {
            int sa = m.open(64), sb = m.open(64), solo = m.open(64);
            StepOutput both = m.step(List.of(SequenceChunk.last(sa, a), SequenceChunk.last(sb, b)));
            StepOutput alone = m.step(List.of(SequenceChunk.last(solo, b)));
            assertArrayEquals(alone.lastLogits(0), both.lastLogits(1));
        }
    }

    /** A logits-only step (plain decoding's prefill) appends and scores as a full one; asking it for features fails. */
    @Test
    void aLogitsOnlyStepGivesTheSameLogitsAndNoFeatures() {
        int[] ids = Golden.ints(Golden.prompt(1).path("input_ids"));
        try (CpuMoeModel m = Models.exact(DemoModels.draft())) {
            int full = m.open(ids.length), lean = m.open(ids.length);
            StepOutput withFeatures = m.step(List.of(SequenceChunk.last(full, ids)));
            StepOutput logitsOnly = m.stepLogitsOnly(List.of(SequenceChunk.last(lean, ids)));
            assertArrayEquals(withFeatures.lastLogits(0), logitsOnly.lastLogits(0));
            assertEquals(m.length(full), m.length(lean), "tokens cached");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> logitsOnly.feature(0, 0));
            assertTrue(e.getMessage().contains("ModelRunner.step"), e.getMessage());
        }
    }

    @Test
    void kvCacheDecodeMatchesFullRecompute() {
        int[] ids = Golden.ints(Golden.prompt(2).path("input_ids"));
        try (CpuMoeModel m = Models.exact(DemoModels.target())) {
            int cached = m.open(ids.length);
            int[] head = java.util.Arrays.copyOf(ids, ids.length - 3);
            m.step(List.of(SequenceChunk.last(cached, head)));
            StepOutput tail = m.step(List.of(new SequenceChunk(cached, java.util.Arrays.copyOfRange(ids, head.length, ids.length), true)));
            int full = m.open(ids.length);
            StepOutput all = m.step(List.of(new SequenceChunk(full, ids, true)));
            for (int r = 0; r < 3; r++) {
                float[] x = tail.logits(0, r), y = all.logits(0, head.length + r);
                for (int v = 0; v < x.length; v++) assertEquals(y[v], x[v], 1e-4f, "row " + r + " logit " + v);
            }
        }
    }

    @Test
    void requestsBeyondTheBudgetAreRefusedUpFront() {
        // the draft needs 512 bytes per token: 512 KiB hold 1024 tokens
        try (CpuMoeModel m = Models.exact(DemoModels.draft(), 512L << 10)) {
            assertEquals(1024, m.cache().capacityTokens());
            int capacity = m.cache().capacityTokens();
            int big = m.open(capacity - KvCache.BLOCK);
            var e = assertThrows(KvCacheCapacityException.class, () -> m.open(2 * KvCache.BLOCK));
            assertTrue(e.getMessage().contains("--kv-cache-memory"), e.getMessage());
            m.release(big);
            m.open(2 * KvCache.BLOCK);
            int small = m.open(3);
            m.step(List.of(SequenceChunk.last(small, 256, 'a', 'b')));
            var over = assertThrows(IllegalArgumentException.class, () -> m.step(List.of(SequenceChunk.last(small, 'c'))));
            assertTrue(over.getMessage().contains("reserved"), over.getMessage());
        }
        var tiny = assertThrows(KvCacheCapacityException.class, () -> new KvCache(4, 64, 1000));
        assertTrue(tiny.getMessage().contains("below one block"), tiny.getMessage());
    }
}
