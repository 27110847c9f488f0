package dev.moespec.api.config;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EngineConfigTest {

    @Test
    void builderDefaults() {
        EngineConfig c = EngineConfig.builder(TestModels.target()).build();
        assertEquals("auto", c.kernel().moeBackend());
        assertEquals(ParallelConfig.single(), c.parallel());
        assertEquals(2048, c.maxModelLen());
        assertEquals(TestModels.target().quantization(), c.quant());
        assertEquals(Optional.empty(), c.speculative());
    }

    @Test
    void builderNormalisesTheBackendName() {
        assertEquals("flashinfer_trtllm",
                EngineConfig.builder(TestModels.target()).moeBackend(" FlashInfer-TRTLLM ").build().kernel().moeBackend());
    }

    @Test
    void maxModelLenAboveThePositionLimitIsRejected() {
        var e = assertThrows(ConfigException.class,
                () -> EngineConfig.builder(TestModels.target()).maxModelLen(4096).build());
        assertEquals("max_model_len 4096 exceeds max_position_embeddings 2048 of "
                + TestModels.TARGET.resolve("config.json") + "; pass a value <= 2048", e.getMessage());
    }

    @Test
    void withMethodsReturnCopiesAndLeaveTheOriginal() {
        EngineConfig c = EngineConfig.builder(TestModels.target()).moeBackend("triton").build();
        EngineConfig d = c.withKernel(c.kernel().withMoeBackend("auto")).withMaxModelLen(100);
        assertEquals("triton", c.kernel().moeBackend());
        assertEquals(2048, c.maxModelLen());
        assertEquals("auto", d.kernel().moeBackend());
        assertEquals(100, d.maxModelLen());
    }

    @Test
    void parallelSizesMustBePositive() {
        var e = assertThrows(ConfigException.class,
                () -> EngineConfig.builder(TestModels.target()).tensorParallelSize(0).build());
        assertEquals("tensor_parallel_size must be >= 1, got 0", e.getMessage());
        assertEquals("rank must be >= 0, got -1",
                assertThrows(ConfigException.class, () -> new ParallelConfig(1, 1, -1)).getMessage());
    }

    @Test
    void targetQuantizationOverrideIsApplied() {
        assertEquals(QuantScheme.BF16, EngineConfig.builder(ModelConfig.load(TestModels.DRAFT)).quantization("none")
                .build().quant().moeScheme());
    }
}
