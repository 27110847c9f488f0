package dev.moespec.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.engine.loader.DemoModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * golden.json through the SPI's {@code cpu_reference} kernel, which rounds MoE activations like the GPU paths do
 * (FP8 1×128 groups for the FP8 target, BF16 for the dequantised target and the draft). Teacher-forced over the
 * golden continuation: at every step the argmax must be the golden token unless the golden top-1/top-2 margin is
 * below the bound for that rounding.
 */
class GoldenBindingTest {

    @ParameterizedTest(name = "{0} as {1}, prompt {2}, margin bound {3}")
    @CsvSource({
            "target_fp8, FP8_BLOCK_128, 0, 0.25", "target_fp8, FP8_BLOCK_128, 1, 0.25",
            "target_fp8, FP8_BLOCK_128, 2, 0.25", "target_fp8, FP8_BLOCK_128, 3, 0.25",
            // FORMAT.md §6: bf16 engines may differ only where the margin is below ~0.05
            "target_fp8, BF16, 0, 0.05", "target_fp8, BF16, 1, 0.05", "target_fp8, BF16, 2, 0.05", "target_fp8, BF16, 3, 0.05",
            "draft, BF16, 0, 0.05", "draft, BF16, 1, 0.05", "draft, BF16, 2, 0.05", "draft, BF16, 3, 0.05"})
    void teacherForcedGreedyTokensMatchWhereTheMarginAllows(String model, QuantScheme scheme, int index, float bound) {
        JsonNode prompt = Golden.prompt(index), g = prompt.path(model);
        Path dir = model.equals("draft") ? DemoModels.draft() : DemoModels.target();
        int[] ids = Golden.ints(prompt.path("input_ids"));
        int[] expected = Golden.ints(g.path("tokens"));
        float[] margins = Golden.floats(g.path("top1_top2_margins"));
        int[] forced = new int[ids.length + expected.length - 1];
        System.arraycopy(ids, 0, forced, 0, ids.length);
        System.arraycopy(expected, 0, forced, ids.length, expected.length - 1);
        try (CpuMoeModel m = Models.cpuReference(dir, scheme)) {
            int seq = m.open(forced.length);
            StepOutput out = m.step(List.of(new SequenceChunk(seq, forced, true)));
            StringBuilder report = new StringBuilder();
            int mismatches = 0;
            for (int t = 0; t < expected.length; t++) {
                int got = Golden.argmax(out.logits(0, ids.length - 1 + t));
                if (got != expected[t]) {
                    report.append(" step ").append(t).append(": ").append(got).append(" vs ").append(expected[t])
                            .append(" (margin ").append(margins[t]).append(')');
                    if (margins[t] >= bound) mismatches++;
                }
            }
            System.out.println(model + "/" + scheme + "/" + index + " differences:" + (report.isEmpty() ? " none" : report));
            assertTrue(mismatches == 0, "differs from golden where the margin is >= " + bound + ":" + report);
        }
    }
}
