package dev.moespec.engine.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeerAnchorsTest {

    @Test
    void bundledAnchorsHaveEveryRowOfTheFourShapes() {
        Path dir = PeerAnchors.locate().orElseThrow(() -> new AssertionError("anchors/ not found from " + Path.of("").toAbsolutePath()));
        PeerAnchors peers = PeerAnchors.load(dir);
        assertEquals(2, peers.files().size());
        for (BenchShape s : BenchShape.ANCHORS) {
            for (int m : BenchShape.ANCHOR_TOKENS) {
                for (BenchDtype d : BenchDtype.values()) assertTrue(peers.row(s.name(), d, m).isPresent(), s.name() + " " + d + " " + m);
            }
        }
        assertEquals(50.7, peers.row("qwen3-30b-a3b", BenchDtype.BF16, 1).orElseThrow().peerUs(), 0.05);
        assertEquals(8, peers.row("qwen3-30b-a3b", BenchDtype.BF16, 1).orElseThrow().expertsHit());
        assertEquals(181.8, peers.row("mixtral", BenchDtype.FP8BLOCK, 1).orElseThrow().peerUs(), 0.05);
        assertTrue(peers.row("tiny", BenchDtype.BF16, 1).isEmpty());
        // mixtral M=1: fp8 160.2 beats fp8block 181.8; M=4096: fp8 3162.5 beats fp8block 5718.7; small M=1: fp8block 42.4 wins
        assertEquals(160.2, peers.bestFp8Us("mixtral", 1).orElseThrow(), 0.05);
        assertEquals(42.4, peers.bestFp8Us("small", 1).orElseThrow(), 0.05);
        assertTrue(peers.bestFp8Us("tiny", 1).isEmpty());
        assertEquals(3.35, peers.hbmPeak().tbs());
        assertTrue(peers.hbmPeak().source().startsWith("from the anchors' meta"), peers.hbmPeak().source());
        assertEquals("NVIDIA H100 80GB HBM3", peers.device().orElseThrow());
    }

    @Test
    void withoutAnchorsTheH100DatasheetPeakIsUsedAndSaidSo() {
        PeerAnchors none = PeerAnchors.none();
        assertEquals(3.35, none.hbmPeak().tbs());
        assertTrue(none.hbmPeak().source().contains("datasheet"));
    }
}
