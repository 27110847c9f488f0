package dev.moespec.api.plugin;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PluginNamesTest {
    private static final List<String> BACKENDS = List.of("cpu_reference", "flashinfer_trtllm", "triton");

    @Test
    void normalizesLikeVllm() {
        assertEquals("flashinfer_trtllm", PluginNames.normalize(" FlashInfer-TRTLLM "));
    }

    @Test
    void suggestsForSubstitutionInsertionAndSwap() {
        assertEquals(Optional.of("triton"), PluginNames.closest("tritn", BACKENDS));
        assertEquals(Optional.of("triton"), PluginNames.closest("tirton", BACKENDS));
        assertEquals(Optional.of("ngram"), PluginNames.closest("ngarm", List.of("ngram")));
        assertEquals(Optional.of("flashinfer_trtllm"), PluginNames.closest("flashinfer-trtlm", BACKENDS));
    }

    @Test
    void suggestsNothingForAnUnrelatedName() {
        assertEquals(Optional.empty(), PluginNames.closest("marlin", BACKENDS));
    }

    @Test
    void distanceCountsASwapAsOneEdit() {
        assertEquals(1, PluginNames.distance("ab", "ba"));
        assertEquals(2, PluginNames.distance("kitten", "sittin"));
    }
}
