package dev.moespec.backend.triton;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The prefill-path choice: the {@code auto} rule (wgmma only on sm_90 and only once the tiles fill), and what
 * {@value PrefillGemms#PROPERTY} accepts and how it refuses the rest.
 */
class PrefillGemmsTest {

    private String previous;

    @BeforeEach
    void save() {
        previous = System.getProperty(PrefillGemms.PROPERTY);
    }

    @AfterEach
    void restore() {
        if (previous == null) System.clearProperty(PrefillGemms.PROPERTY);
        else System.setProperty(PrefillGemms.PROPERTY, previous);
    }

    @Test
    void unsetMeansAuto() {
        System.clearProperty(PrefillGemms.PROPERTY);
        assertEquals(PrefillGemms.Path.AUTO, PrefillGemms.Path.fromSystemProperty());
    }

    @Test
    void namesAreCaseAndSpaceInsensitive() {
        System.setProperty(PrefillGemms.PROPERTY, " WGMMA ");
        assertEquals(PrefillGemms.Path.WGMMA, PrefillGemms.Path.fromSystemProperty());
        System.setProperty(PrefillGemms.PROPERTY, "mma");
        assertEquals(PrefillGemms.Path.MMA, PrefillGemms.Path.fromSystemProperty());
    }

    @Test
    void anUnknownPathIsRefusedNamingThePropertyAndTheChoices() {
        System.setProperty(PrefillGemms.PROPERTY, "tma");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, PrefillGemms.Path::fromSystemProperty);
        assertTrue(e.getMessage().contains(PrefillGemms.PROPERTY) && e.getMessage().contains("auto, wgmma or mma"), e.getMessage());
    }

    @Test
    void autoTakesWgmmaOnSm90OnceEveryExpertFillsA128RowTileOnAverage() {
        // mixtral-like: 8 experts, top-2 -> 128 rows per expert from M = 512
        MoeLayerSpec mixtral = layer(8, 2);
        assertFalse(PrefillGemms.autoWgmma(mixtral, 90, 511));
        assertTrue(PrefillGemms.autoWgmma(mixtral, 90, 512));
        // qwen3-like: 128 experts, top-8 -> from M = 2048
        MoeLayerSpec qwen3 = layer(128, 8);
        assertFalse(PrefillGemms.autoWgmma(qwen3, 90, 2047));
        assertTrue(PrefillGemms.autoWgmma(qwen3, 90, 2048));
    }

    @Test
    void autoKeepsMmaSyncOffSm90() {
        MoeLayerSpec mixtral = layer(8, 2);
        for (int sm : new int[]{80, 86, 89, 100, 120}) {
            assertFalse(PrefillGemms.autoWgmma(mixtral, sm, 4096), "sm_" + sm + " has no sm_90a SASS");
        }
    }

    private static MoeLayerSpec layer(int experts, int topK) {
        return new MoeLayerSpec(experts, topK, 256, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), QuantScheme.BF16, 4096);
    }
}
