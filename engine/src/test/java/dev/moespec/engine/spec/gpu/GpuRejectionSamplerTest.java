package dev.moespec.engine.spec.gpu;

import dev.moespec.engine.spec.VerificationResult;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The GPU rejection sampler's host-side checks and output decoding (no GPU needed). */
class GpuRejectionSamplerTest {

    private static String refused(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void hostInputsAreCheckedBeforeAnythingReachesTheDevice() {
        List<int[]> drafts = List.of(new int[]{1, 2}, new int[0]);
        List<double[]> u = List.of(new double[]{0.1, 0.2, 0.3}, new double[]{0.5});
        assertEquals(2, GpuRejectionSampler.checkHostInputs(VerifyMode.PROBABILISTIC, 1, 10, drafts, 2, u));
        assertEquals(2, GpuRejectionSampler.checkHostInputs(VerifyMode.GREEDY, 1, 10, drafts, 2, null));

        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.GREEDY, 1, 10, drafts, 1, null))
                .contains("sequence 0 has 2 drafts, more than maxDrafts=1"));
        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.GREEDY, 1, 2, drafts, 2, null))
                .contains("draft token 2 at position 1 of sequence 0 is outside the vocabulary [0, 2)"));
        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.GREEDY, 0, 10, drafts, 2, null))
                .contains("null device pointer"));
        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.PROBABILISTIC, 1, 10, drafts, 2, null))
                .contains("one uniforms array per sequence"));
        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.PROBABILISTIC, 1, 10, drafts, 2,
                List.of(new double[]{0.1, 0.2}, new double[]{0.5}))).contains("needs at least 3 uniforms"));
        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.PROBABILISTIC, 1, 10, drafts, 2,
                List.of(new double[]{0.1, 1.0, 0.3}, new double[]{0.5}))).contains("outside [0, 1)"));
        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.GREEDY, 1, 10,
                Arrays.asList(new int[]{1}, null), 2, null)).contains("drafts of sequence 1 are null"));
        assertTrue(refused(() -> GpuRejectionSampler.checkHostInputs(VerifyMode.GREEDY, 1, 0, drafts, 2, null))
                .contains("vocab must be >= 1"));
        assertEquals(0, GpuRejectionSampler.checkHostInputs(VerifyMode.GREEDY, 0, 10, List.of(), 2, null));
    }

    @Test
    void theOutputLayoutDecodesIntoOneResultPerSequence() {
        try (Arena arena = Arena.ofConfined()) {
            int k = 3;
            MemorySegment out = arena.allocate(4L * GpuRejectionSampler.outputInts(2, k));
            int[] raw = {2, 7, 8, 9, -1, /* second */ 0, 4, -1, -1, -1};
            MemorySegment.copy(raw, 0, out, ValueLayout.JAVA_INT, 0, raw.length);
            assertEquals(List.of(new VerificationResult(new int[]{7, 8, 9}, 2), new VerificationResult(new int[]{4}, 0)),
                    GpuRejectionSampler.decode(out, 2, k));

            out.setAtIndex(ValueLayout.JAVA_INT, 0, 4);
            String why = assertThrows(IllegalStateException.class, () -> GpuRejectionSampler.decode(out, 2, k)).getMessage();
            assertTrue(why.contains("4 accepted drafts, outside [0, 3]"), why);
            assertTrue(refused(() -> GpuRejectionSampler.decode(out, 3, k)).contains("need 60"));
        }
    }
}
