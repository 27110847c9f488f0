package dev.moespec.engine.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class KvCacheTruncateTest {

    @Test
    void truncateDropsTheTailAndKeepsTheReservation() {
        KvCache cache = new KvCache(2, 8, 1L << 20);
        int s = cache.open(40);
        cache.advance(s, 30);
        int free = cache.freeTokens();
        cache.truncate(s, 12);
        assertEquals(12, cache.length(s));
        assertEquals(free, cache.freeTokens(), "blocks stay reserved for the sequence's declared length");
        cache.advance(s, 28);
        assertEquals(40, cache.length(s));
    }

    @Test
    void truncatingPastTheEndOrAdvancingPastTheReservationIsRefused() {
        KvCache cache = new KvCache(1, 8, 1L << 20);
        int s = cache.open(10);
        cache.advance(s, 5);
        var e = assertThrows(IllegalArgumentException.class, () -> cache.truncate(s, 6));
        assertEquals("cannot truncate sequence 0 to 6 tokens: it holds 5 (a rollback keeps 0..5)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cache.truncate(s, -1));
        assertThrows(IllegalArgumentException.class, () -> cache.advance(s, 6));
    }
}
