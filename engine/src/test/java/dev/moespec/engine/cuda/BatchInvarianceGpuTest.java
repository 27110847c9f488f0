package dev.moespec.engine.cuda;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.model.SequenceChunk;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Batch-invariant mode: a row's logits are bit-identical whether its step carries it alone (a plain decode step) or
 * together with other sequences' rows (a verification pass of k + 1 tokens per sequence, a ragged eager step), with
 * graphs on and off. The default mode is only reported: there the kernels may tile by row count.
 */
@Tag("gpu")
class BatchInvarianceGpuTest {
    private static final int[] PROMPT = "def fibonacci(n):\n".chars().toArray();
    private static final int[] OTHER = "import os\nimport sys\n".chars().toArray();

    @BeforeEach
    void gpu() {
        GpuModels.assumeGpuRunner();
    }

    @ParameterizedTest(name = "{0} ({1}), graphs {2}")
    @CsvSource({"flashinfer_trtllm, FP8_BLOCK_128, true", "flashinfer_trtllm, FP8_BLOCK_128, false",
            "triton, BF16, true", "triton, BF16, false"})
    void aRowsLogitsDoNotDependOnWhatElseItsStepCarries(String backend, QuantScheme scheme, boolean graphs) {
        try (GpuModels.Runner r = GpuModels.open(DemoModels.target(), backend, scheme)) {
            CudaMoeModel model = r.model();
            model.useGraphs(graphs);
            float[][] invariant = shapes(model, true);
            for (int i = 1; i < invariant.length; i++) {
                assertArrayEquals(invariant[0], invariant[i], "batch-invariant: step shape " + i + " changed the row's logits");
            }
            float[][] plain = shapes(model, false);
            long differing = Arrays.stream(plain).skip(1).filter(l -> !Arrays.equals(l, plain[0])).count();
            System.out.printf("[batch invariance] %s graphs=%s: default mode, %d of %d other step shapes change the row's logits%n",
                    backend, graphs, differing, plain.length - 1);
            assertFalse(model.batchInvariantOn(), "mode restored");
        }
    }

    /** The logits of the same row (PROMPT's next token) computed in steps of different shapes. */
    private static float[][] shapes(CudaMoeModel model, boolean invariant) {
        model.batchInvariant(invariant);
        int a = model.open(PROMPT.length + 8), b = model.open(OTHER.length + 8);
        try {
            int[] prefix = Arrays.copyOf(PROMPT, PROMPT.length - 1);
            int last = PROMPT[PROMPT.length - 1];
            model.step(List.of(SequenceChunk.last(a, prefix), SequenceChunk.last(b, OTHER)));
            int la = model.length(a), lb = model.length(b);
            float[][] out = new float[4][];
            // 1: alone, one token (a decode step at batch 1)
            out[0] = model.step(List.of(SequenceChunk.last(a, new int[] {last}))).lastLogits(0);
            model.truncate(a, la);
            // 2: beside another sequence's single token (decode at batch 2)
            out[1] = model.step(List.of(SequenceChunk.last(a, new int[] {last}), SequenceChunk.last(b, new int[] {'x'})))
                    .lastLogits(0);
            model.truncate(a, la);
            model.truncate(b, lb);
            // 3: as the first of 3 tokens scored at once, beside 3 more (a verification pass, k = 2)
            out[2] = model.step(List.of(new SequenceChunk(a, new int[] {last, 'x', 'y'}, true),
                    new SequenceChunk(b, new int[] {'a', 'b', 'c'}, true))).logits(0, 0);
            model.truncate(a, la);
            model.truncate(b, lb);
            // 4: a ragged eager step
            out[3] = model.step(List.of(SequenceChunk.last(b, new int[] {'p', 'q', 'r', 's', 't'}),
                    SequenceChunk.last(a, new int[] {last}))).lastLogits(1);
            return out;
        } finally {
            model.release(a);
            model.release(b);
            model.batchInvariant(false);
        }
    }
}
