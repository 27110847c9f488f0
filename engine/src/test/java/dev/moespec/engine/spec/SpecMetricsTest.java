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
                Map.of("target", "flashinfer_trtllm", "draft", "triton"), launches, 0);
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
}
