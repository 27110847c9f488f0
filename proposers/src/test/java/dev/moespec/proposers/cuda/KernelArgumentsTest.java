package dev.moespec.proposers.cuda;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the GPU wrappers refuse before anything reaches the device (no GPU needed). */
class KernelArgumentsTest {

    @Test
    void ngramLookupRefusesBoundsTheCpuProposerWouldRefuse() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new NgramLookup(0, 1, 2, 10)).getMessage()
                .contains("k >= 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new NgramLookup(2, 0, 2, 10)).getMessage()
                .contains("prompt_lookup_min must be >= 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new NgramLookup(2, 3, 2, 10)).getMessage()
                .contains("prompt_lookup_min=3 must be <= prompt_lookup_max=2"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new NgramLookup(2, 1, 2, 0)).getMessage()
                .contains("max_model_len"));
    }

    @Test
    void historiesArePackedBackToBackWithTheirStartOffsets() {
        long[] offsets = GpuNgramMatcher.packedOffsets(List.of(new int[]{1, 2, 3}, new int[0], new int[]{4}));
        assertArrayEquals(new long[]{0, 3, 3, 4}, offsets);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GpuNgramMatcher.packedOffsets(Arrays.asList(new int[]{1}, null)));
        assertTrue(e.getMessage().contains("sequence 1 is null"), e.getMessage());
    }

    @Test
    void draftSamplingSettingsAreCheckedLikeTheEnginesSamplingParams() {
        assertTrue(DraftSampling.GREEDY.isGreedy());
        assertThrows(IllegalArgumentException.class, () -> new DraftSampling(-0.1, 0, 1, 0.5));
        assertThrows(IllegalArgumentException.class, () -> new DraftSampling(Double.POSITIVE_INFINITY, 0, 1, 0.5));
        assertThrows(IllegalArgumentException.class, () -> new DraftSampling(Double.NaN, 0, 1, 0.5));
        assertThrows(IllegalArgumentException.class, () -> new DraftSampling(1, -2, 1, 0.5));
        assertThrows(IllegalArgumentException.class, () -> new DraftSampling(1, 0, 0, 0.5));
        assertThrows(IllegalArgumentException.class, () -> new DraftSampling(1, 0, 1.01, 0.5));
        String why = assertThrows(IllegalArgumentException.class, () -> new DraftSampling(1, 0, 1, 1.0)).getMessage();
        assertTrue(why.contains("[0, 1)"), why);
        assertThrows(IllegalArgumentException.class, () -> new DraftSampling(1, 0, 1, -1e-9));
    }

    @Test
    void draftSamplerShapesAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> GpuDraftSampler.checkShape(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> GpuDraftSampler.checkShape(1, 0));
        assertTrue(GpuDraftSampler.checkShape(3, 7) == 21);
        String why = assertThrows(IllegalArgumentException.class, () -> GpuDraftSampler.checkStride(6, 7)).getMessage();
        assertTrue(why.contains("below the vocabulary 7"), why);
        GpuDraftSampler.checkStride(14, 7);
    }
}
