package dev.moespec.engine.spec;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SpecMetricsTest {

    private static SpecMetrics withLaunches(Map<String, Map<String, Long>> launches) {
        return new SpecMetrics("mtp", 2, 1, 10, 4, 4, 4, 8, 6, 0.75, 2.5, 1.5, new double[] {0.9, 0.6}, 0, 0, 0, 0, 1, 10,
                Map.of("target", "flashinfer_trtllm", "draft", "triton"), launches, 0, 0);
    }

    @Test
    void launchesAreLookedUpPerRoleAndImageAndMissingOnesAreZero() {
        SpecMetrics m = withLaunches(Map.of("target", Map.of("moespec-backend-flashinfer-trtllm", 240L),
                "draft", Map.of("moespec-backend-triton", 90L)));
        assertEquals(240, m.launches("target", "moespec-backend-flashinfer-trtllm"));
        assertEquals(0, m.launches("target", "moespec-backend-triton"));
        assertEquals(90, m.launches("draft", "moespec-backend-triton"));
        assertEquals(0, m.launches("unscoped", "moespec-engine"));
    }

    @Test
    void launchesAreSortedAndAnImmutableCopy() {
        Map<String, Long> images = new HashMap<>(Map.of("z-image", 1L, "a-image", 2L));
        Map<String, Map<String, Long>> byRole = new HashMap<>(Map.of("target", images, "draft", Map.of("x", 3L)));
        SpecMetrics m = withLaunches(byRole);
        images.put("late", 5L);
        byRole.clear();
        assertEquals(List.of("draft", "target"), List.copyOf(m.launches().keySet()));
        assertEquals(List.of("a-image", "z-image"), List.copyOf(m.launches().get("target").keySet()));
        assertThrows(UnsupportedOperationException.class, () -> m.launches().get("target").put("y", 1L));
    }

    @Test
    void summedRunsAddTheirCountsAndTakeTheirRatesFromTheTotals() {
        SpecMetrics a = withLaunches(Map.of("target", Map.of("moespec-engine", 100L)));
        // 2 drafts of 2 tokens, 1 accepted in all, on 2 sequences; 3 s for 6 tokens; 1 of 2 passes fused
        SpecMetrics b = new SpecMetrics("mtp", 2, 2, 6, 2, 2, 2, 4, 1, 0.25, 1.5, 0.5, new double[] {0.5, 0.0}, 0.5, 0.25,
                1, 0.5, 3, 2, Map.of("target", "triton"), Map.of("target", Map.of("moespec-engine", 20L),
                "draft", Map.of("moespec-backend-triton", 7L)), 1, 1);
        SpecMetrics sum = SpecMetrics.sum(List.of(a, b));
        assertEquals(3, sum.sequences());
        assertEquals(16, sum.newTokens());
        assertEquals(6, sum.targetPasses());
        assertEquals(6, sum.verifySteps());
        assertEquals(6, sum.drafts());
        assertEquals(12, sum.draftTokens());
        assertEquals(7, sum.acceptedTokens());
        assertEquals(1, sum.fusedRounds());
        assertEquals(1, sum.siblingsAccepted());
        assertEquals(7 / 12.0, sum.acceptanceRate(), 1e-12);
        assertEquals(1 + 7 / 6.0, sum.meanAcceptanceLength(), 1e-12);
        assertEquals(7 / 6.0, sum.meanAcceptedPerStep(), 1e-12);
        // per position weighted by drafts: (0.9 * 4 + 0.5 * 2) / 6, (0.6 * 4 + 0 * 2) / 6
        assertEquals(4.6 / 6, sum.perPositionAcceptance()[0], 1e-12);
        assertEquals(2.4 / 6, sum.perPositionAcceptance()[1], 1e-12);
        assertEquals(4, sum.totalSeconds(), 1e-12);
        assertEquals(4.0, sum.tokensPerSecond(), 1e-12);
        assertEquals(1.0, sum.verifySeconds(), 1e-12);
        assertEquals(120, sum.launches("target", "moespec-engine"));
        assertEquals(7, sum.launches("draft", "moespec-backend-triton"));
        assertEquals("flashinfer_trtllm", sum.moeBackends().get("target"), "the first run's backends");
        assertThrows(IllegalArgumentException.class, () -> SpecMetrics.sum(List.of()));
    }
}
