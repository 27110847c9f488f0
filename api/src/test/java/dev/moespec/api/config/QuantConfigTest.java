package dev.moespec.api.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class QuantConfigTest {

    private static ModelConfig withQuant(Path dir, Map<String, ?> quantizationConfig) {
        return ModelConfig.load(TestModels.writeConfig(dir, Map.of("quantization_config", quantizationConfig)));
    }

    @Test
    void unquantizedSchemeFollowsTorchDtype(@TempDir Path tmp) {
        assertEquals(QuantConfig.none(QuantScheme.BF16), ModelConfig.load(TestModels.DRAFT).quantization());
        ModelConfig fp16 = ModelConfig.load(TestModels.writeConfig(tmp.resolve("a"), Map.of("torch_dtype", "float16")));
        assertEquals(QuantScheme.FP16, fp16.quantization().moeScheme());
        ModelConfig noDtype = ModelConfig.load(TestModels.writeConfig(tmp.resolve("b"), Map.of("torch_dtype", TestModels.REMOVE)));
        assertEquals(QuantScheme.BF16, noDtype.quantization().moeScheme());
    }

    @Test
    void fp8WithoutBlocksIsPerTensorAndChannelStrategyIsPerChannel(@TempDir Path tmp) {
        assertEquals(QuantScheme.FP8_PER_TENSOR,
                withQuant(tmp.resolve("t"), Map.of("quant_method", "fp8")).quantization().moeScheme());
        assertEquals(QuantScheme.FP8_PER_CHANNEL, withQuant(tmp.resolve("c"),
                Map.of("quant_method", "fp8", "weight_quant_strategy", "channel")).quantization().moeScheme());
        assertEquals(QuantScheme.FP8_PER_CHANNEL, withQuant(tmp.resolve("s"),
                Map.of("quant_method", "fp8", "strategy", "channel")).quantization().moeScheme());
    }

    @Test
    void blockSizeOtherThan128IsRejected(@TempDir Path tmp) {
        var e = assertThrows(ConfigException.class, () -> withQuant(tmp,
                Map.of("quant_method", "fp8", "weight_block_size", List.of(64, 64))));
        assertEquals(tmp.resolve("config.json") + ": weight_block_size [64, 64] is not supported; FP8 block"
                + " quantization needs [128, 128] (re-quantize the checkpoint with 128x128 blocks)", e.getMessage());
    }

    @Test
    void unsupportedQuantMethodIsRejected(@TempDir Path tmp) {
        var e = assertThrows(ConfigException.class, () -> withQuant(tmp, Map.of("quant_method", "gptq")));
        assertEquals(tmp.resolve("config.json") + ": quantization_config.quant_method 'gptq' is not supported;"
                + " supported: [fp8] (or an unquantized BF16/FP16 checkpoint)", e.getMessage());
    }

    @Test
    void forNameNullKeepsTheCheckpointsOwn() {
        ModelConfig target = TestModels.target();
        assertSame(target.quantization(), QuantConfig.forName(null, target));
    }

    @Test
    void forNameFp8QuantizesAnUnquantizedCheckpointPerTensor() {
        QuantConfig q = QuantConfig.forName("FP8", ModelConfig.load(TestModels.DRAFT));
        assertEquals(QuantScheme.FP8_PER_TENSOR, q.moeScheme());
        assertEquals("dynamic", q.activationScheme());
        assertEquals(QuantScheme.FP8_BLOCK_128, QuantConfig.forName("fp8", TestModels.target()).moeScheme());
    }

    @Test
    void forNameNoneOnAnFp8CheckpointIsAConflict() {
        var e = assertThrows(ConfigException.class, () -> QuantConfig.forName("none", TestModels.target()));
        assertEquals("quantization 'none' conflicts with " + TestModels.TARGET.resolve("config.json")
                + ", which is quantized with fp8 (fp8_block_128); drop 'quantization' or use an unquantized checkpoint",
                e.getMessage());
    }

    @Test
    void forNameRejectsUnknownNamesListingValidOnes() {
        var e = assertThrows(ConfigException.class, () -> QuantConfig.forName("awq", TestModels.target()));
        assertEquals("Unknown quantization 'awq'; valid values: [fp8, none]"
                + " (omit it to use the checkpoint's own quantization_config)", e.getMessage());
    }
}
