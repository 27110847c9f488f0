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
    void autoTakesWgmmaOnSm90FromTheMeasuredCrossoverWhateverTheExpertCount() {
        for (MoeLayerSpec layer : new MoeLayerSpec[]{layer(8, 2), layer(128, 8)}) {
            assertFalse(PrefillGemms.autoWgmma(layer, 90, PrefillGemms.WGMMA_MIN_TOKENS - 1));
            assertTrue(PrefillGemms.autoWgmma(layer, 90, PrefillGemms.WGMMA_MIN_TOKENS));
            assertTrue(PrefillGemms.autoWgmma(layer, 90, 4096));
        }
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
