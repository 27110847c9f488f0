package dev.moespec.engine.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.api.config.EngineConfig;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.tokenizer.ByteLevelBpeTokenizer;
import dev.moespec.engine.tokenizer.Tokenizer;
import dev.moespec.engine.wiring.Engine;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generation through the engine's own wiring: the target role's binding (cpu_reference on a CPU device). */
class GeneratorTest {
    private static final long KV = 16L << 20;

    private static Engine engine() {
        EngineConfig config = EngineConfig.builder(ModelConfig.load(DemoModels.target())).build();
        return Engine.build(config, DeviceInfo.cpu("test"), GeneratorTest.class.getClassLoader());
    }

    @Test
    void greedyOnTheFp8TargetReproducesGoldenAndStreams() throws Exception {
        JsonNode golden = new ObjectMapper().readTree(Files.readString(DemoModels.dir().resolve("golden.json")));
        JsonNode p0 = golden.path("prompts").get(0);
        int[] expected = new ObjectMapper().convertValue(p0.path("target_fp8").path("tokens"), int[].class);
        try (Engine engine = engine(); ModelRunner runner = engine.target().openRunner(KV)) {
            Tokenizer tok = ByteLevelBpeTokenizer.load(DemoModels.target(), 256, 256);
            Generator g = new Generator(runner, tok);
            int[] ids = g.promptIds(p0.path("text").asText());
            assertArrayEquals(new ObjectMapper().convertValue(p0.path("input_ids"), int[].class), ids);
            StringBuilder streamed = new StringBuilder();
            List<Integer> order = new ArrayList<>();
            GenerationResult r = g.generate(ids, new SamplingParams(0, 0, 1, OptionalLong.empty(), 48, true),
                    (id, text) -> { order.add(id); streamed.append(text); });
            assertArrayEquals(expected, r.tokens());
            assertEquals(p0.path("target_fp8").path("text").asText(), r.text());
            assertEquals(r.text(), streamed.toString());
            assertEquals(48, order.size());
            assertEquals(StopReason.MAX_TOKENS, r.stop());
            assertEquals("cpu_reference", r.moeBackend());
            assertTrue(r.ttftNanos() > 0 && r.totalNanos() >= r.ttftNanos() && r.tokensPerSecond() > 0);
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> runner.length(0),
                    "the request's KV cache was released");
        }
    }

    @Test
    void seededSamplingIsReproducibleAndStopsOnEos() {
        try (Engine engine = engine(); ModelRunner runner = engine.target().openRunner(KV)) {
            Tokenizer tok = ByteLevelBpeTokenizer.load(DemoModels.target(), 256, 256);
            Generator g = new Generator(runner, tok);
            int[] ids = g.promptIds("import os\n");
            SamplingParams p = new SamplingParams(0.8, 40, 0.95, OptionalLong.of(7), 24, false);
            assertArrayEquals(g.generate(ids, p, TokenListener.NONE).tokens(), g.generate(ids, p, TokenListener.NONE).tokens());
            // a prompt that ends a file: the model's end-of-document token comes soon after
            int[] end = g.promptIds("import os\n\nif __name__ == \"__main__\":\n    main()\n");
            GenerationResult r = g.generate(end, SamplingParams.greedy(200), TokenListener.NONE);
            if (r.stop() == StopReason.EOS) {
                assertEquals(256, r.tokens()[r.tokens().length - 1]);
                assertTrue(r.tokens().length < 200);
            } else {
                assertEquals(200, r.tokens().length);
            }
        }
    }
}
