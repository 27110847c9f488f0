package dev.moespec.engine.spec.gpu;

import dev.moespec.engine.spec.BatchVerifier;
import dev.moespec.engine.spec.Verification;
import dev.moespec.engine.spec.VerificationResult;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VerifierPlacementTest {

    @AfterEach
    void clear() {
        System.clearProperty(VerifierPlacement.PROPERTY);
    }

    @Test
    void aCpuTargetVerifiesOnTheHostUnderAutoAndCpu() {
        for (String v : new String[] {"auto", "cpu", " CPU "}) {
            System.setProperty(VerifierPlacement.PROPERTY, v);
            try (BatchVerifier verifier = VerifierPlacement.open(OptionalInt.empty())) {
                assertEquals("cpu", verifier.where(), v);
            }
        }
    }

    @Test
    void autoSendsLargeStepsToTheGpuAndSmallOnesToTheHost() {
        List<String> calls = new ArrayList<>();
        BatchVerifier sized = new VerifierPlacement.Sized(recording("gpu", calls), recording("cpu", calls));
        // greedy: 8 sequences x 5 rows x 320 = 12,800 probabilities stay on the host; x 2048 = 81,920 go to the GPU
        sized.verify(steps(8, 5, 320), true, List.of());
        sized.verify(steps(8, 5, 2048), true, List.of());
        // probabilistic: 1 x 5 x 320 = 1,600 already go to the GPU; 1 x 2 x 320 = 640 do not
        sized.verify(steps(1, 5, 320), false, List.of());
        sized.verify(steps(1, 2, 320), false, List.of());
        assertEquals(List.of("cpu", "gpu", "gpu", "cpu"), calls);
        assertTrue(sized.where().startsWith("auto"), sized.where());
    }

    private static List<Verification> steps(int sequences, int rows, int vocab) {
        List<Verification> batch = new ArrayList<>();
        for (int s = 0; s < sequences; s++) {
            float[][] target = new float[rows][vocab];
            for (float[] r : target) r[0] = 1;
            batch.add(new Verification(new int[rows - 1], null, target));
        }
        return batch;
    }

    private static BatchVerifier recording(String where, List<String> calls) {
        return new BatchVerifier() {
            @Override
            public List<VerificationResult> verify(List<Verification> batch, boolean greedy, List<SplittableRandom> randoms) {
                calls.add(where);
                return List.of();
            }

            @Override
            public String where() {
                return where;
            }
        };
    }

    @Test
    void gpuWithoutACudaTargetSaysWhatToUseInstead() {
        System.setProperty(VerifierPlacement.PROPERTY, "gpu");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> VerifierPlacement.open(OptionalInt.empty()));
        assertTrue(e.getMessage().contains("runs on the CPU") && e.getMessage().contains("use auto or cpu"), e.getMessage());
    }

    @Test
    void anUnknownPlacementIsNamedWithTheValidOnes() {
        System.setProperty(VerifierPlacement.PROPERTY, "tpu");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VerifierPlacement.open(OptionalInt.empty()));
        assertTrue(e.getMessage().contains("'tpu'") && e.getMessage().contains("auto, gpu, cpu"), e.getMessage());
    }
}
