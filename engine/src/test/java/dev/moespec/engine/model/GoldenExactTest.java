package dev.moespec.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moespec.engine.loader.DemoModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * FORMAT.md §7 step 1–3 with fp32 math (the exact oracle MoE, unquantised activations): top-5 logits at the last
 * prompt position within 1e-3 and the 48 greedy tokens exactly, with the KV cache, for every prompt of the FP8
 * target (dequantised) and the draft; then the per-layer debug values of prompt 0.
 */
class GoldenExactTest {
    private static final float LOGIT_TOL = 1e-3f;

    @ParameterizedTest(name = "{0} prompt {1}")
    @CsvSource({"target_fp8,0", "target_fp8,1", "target_fp8,2", "target_fp8,3", "draft,0", "draft,1", "draft,2", "draft,3"})
    void greedyContinuationAndTop5MatchGolden(String model, int index) {
        JsonNode prompt = Golden.prompt(index), g = prompt.path(model);
        Path dir = model.equals("draft") ? DemoModels.draft() : DemoModels.target();
        int[] ids = Golden.ints(prompt.path("input_ids"));
        int[] expected = Golden.ints(g.path("tokens"));
        try (CpuMoeModel m = Models.exact(dir)) {
            int seq = m.open(ids.length + expected.length);
            float[] logits = m.step(List.of(SequenceChunk.last(seq, ids))).lastLogits(0);
            JsonNode top5 = g.path("last_prompt_position_top5");
            int[] topIds = Golden.ints(top5.path("ids"));
            float[] topLogits = Golden.floats(top5.path("logits"));
            assertArrayEquals(topIds, TopK.indices(logits, 5), "top-5 ids");
            for (int i = 0; i < 5; i++) assertEquals(topLogits[i], logits[topIds[i]], LOGIT_TOL, "logit of " + topIds[i]);
            int[] got = new int[expected.length];
            for (int t = 0; t < expected.length; t++) {
                got[t] = Golden.argmax(logits);
                if (t + 1 < expected.length) logits = m.step(List.of(SequenceChunk.last(seq, got[t]))).lastLogits(0);
            }
            assertArrayEquals(expected, got, "greedy tokens of " + model + " prompt " + index);
        }
    }

    @Test
    void debugPrompt0BisectsLayerByLayer() {
        JsonNode dbg = Golden.ROOT.path("debug_prompt0").path("target_fp8");
        int[] ids = Golden.ints(Golden.prompt(0).path("input_ids"));
        int last = dbg.path("position").asInt();
        assertEquals(ids.length - 1, last);
        try (CpuMoeModel m = Models.exact(DemoModels.target())) {
            int h = m.config().hiddenSize(), e = m.config().numExperts(), k = m.config().numExpertsPerTok();
            float[][] outputs = new float[m.config().numHiddenLayers()][];
            float[][] routers = new float[outputs.length][];
            m.setTap((layer, rows, router, out) -> {
                outputs[layer] = java.util.Arrays.copyOfRange(out, last * h, last * h + 8);
                routers[layer] = java.util.Arrays.copyOfRange(router, last * e, (last + 1) * e);
            });
            int seq = m.open(ids.length);
            m.step(List.of(SequenceChunk.last(seq, ids)));
            for (int l = 0; l < outputs.length; l++) {
                JsonNode layer = dbg.path("layers").get(l);
                float[] p = softmax(routers[l]);
                int[] top = TopK.indices(p, k);
                assertArrayEquals(Golden.ints(layer.path("router_experts")), top, "router experts, layer " + l);
                float sum = 0f;
                for (int x : top) sum += p[x];
                float[] weights = Golden.floats(layer.path("router_weights"));
                for (int j = 0; j < k; j++) assertEquals(weights[j], p[top[j]] / sum, 1e-5f, "router weight, layer " + l);
                float[] first8 = Golden.floats(layer.path("output_first8"));
                for (int j = 0; j < 8; j++) assertEquals(first8[j], outputs[l][j], 1e-4f, "output[" + j + "], layer " + l);
            }
        }
    }

    private static float[] softmax(float[] r) {
        float max = Float.NEGATIVE_INFINITY, sum = 0f;
        for (float v : r) max = Math.max(max, v);
        float[] p = new float[r.length];
        for (int i = 0; i < r.length; i++) sum += p[i] = (float) Math.exp(r[i] - max);
        for (int i = 0; i < r.length; i++) p[i] /= sum;
        return p;
    }
}
