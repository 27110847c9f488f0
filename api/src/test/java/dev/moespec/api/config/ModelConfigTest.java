package dev.moespec.api.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelConfigTest {

    @Test
    void loadsTheBundledFp8Target() {
        ModelConfig m = TestModels.target();
        assertEquals(TestModels.TARGET, m.path());
        assertEquals("demo-target", m.name());
        assertEquals("Qwen3MoeForCausalLM", m.architecture());
        assertEquals("qwen3_moe", m.modelType());
        assertEquals(List.of(256, 4, 8, 2, 32, 320, 2048), List.of(m.hiddenSize(), m.numHiddenLayers(),
                m.numAttentionHeads(), m.numKeyValueHeads(), m.headDim(), m.vocabSize(), m.maxPositionEmbeddings()));
        assertEquals(1e-6, m.rmsNormEps());
        assertEquals(10000.0, m.ropeTheta());
        assertFalse(m.tieWordEmbeddings());
        assertEquals(512, m.intermediateSize());
        assertEquals(List.of(16, 4, 128), List.of(m.numExperts(), m.numExpertsPerTok(), m.moeIntermediateSize()));
        assertTrue(m.normTopkProb());
        assertEquals("softmax", m.scoringFunc());
        assertTrue(m.hasMoeLayers());
        assertEquals(OptionalInt.empty(), m.nPredict());
        assertEquals(Optional.empty(), m.speculativeMethod());
        assertEquals(QuantScheme.FP8_BLOCK_128, m.quantization().moeScheme());
        assertEquals(List.of(128, 128), m.quantization().weightBlockSize());
        assertTrue(m.quantization().modulesToNotConvert().contains("model.layers.0.mlp.gate"));
    }

    @Test
    void readsTheSpeculativeHeadBlockOfTheMtpCheckpoint() {
        ModelConfig m = ModelConfig.load(TestModels.MTP);
        assertEquals("demo_qwen3_moe_mtp", m.modelType());
        assertEquals(OptionalInt.of(1), m.nPredict()); // num_nextn_predict_layers
        assertEquals(Optional.of("mtp"), m.speculativeMethod());
        assertEquals(Optional.of("demo-target"), m.speculativeTargetModel());
        assertEquals(QuantScheme.BF16, m.quantization().moeScheme());
    }

    @Test
    void medusaHeadsWithoutAttentionOrExpertsLoad() {
        ModelConfig m = ModelConfig.load(TestModels.MEDUSA);
        assertEquals("medusa", m.modelType());
        assertEquals(0, m.numAttentionHeads());
        assertEquals(0, m.headDim());
        assertFalse(m.hasMoeLayers());
    }

    @Test
    void mixtralExpertsUseNumLocalExpertsAndIntermediateSize(@TempDir Path tmp) {
        ModelConfig m = ModelConfig.load(TestModels.writeConfig(tmp, Map.of("model_type", "mixtral",
                "num_experts", TestModels.REMOVE, "moe_intermediate_size", TestModels.REMOVE,
                "num_local_experts", 8, "intermediate_size", 14336)));
        assertEquals(8, m.numExperts());
        assertEquals(14336, m.moeIntermediateSize());
        assertTrue(m.normTopkProb(), "Mixtral renormalises its top-2 weights");
    }

    @Test
    void deepSeekRoutingFieldsAndMtpLayers(@TempDir Path tmp) {
        ModelConfig m = ModelConfig.load(TestModels.writeConfig(tmp, Map.of("model_type", "deepseek_v3",
                "num_experts", TestModels.REMOVE, "n_routed_experts", 256, "num_experts_per_tok", 8,
                "moe_intermediate_size", 2048, "scoring_func", "sigmoid", "n_group", 8, "topk_group", 4,
                "routed_scaling_factor", 2.5, "num_nextn_predict_layers", 1)));
        assertEquals(256, m.numExperts());
        assertEquals(2048, m.moeIntermediateSize());
        assertEquals("sigmoid", m.scoringFunc());
        assertEquals(OptionalInt.of(8), m.nGroup());
        assertEquals(OptionalInt.of(4), m.topkGroup());
        assertEquals(2.5, m.routedScalingFactor().orElseThrow());
        assertEquals(OptionalInt.of(1), m.nPredict());
    }

    @Test
    void missingDirectoryIsNamed(@TempDir Path tmp) {
        Path dir = tmp.resolve("nope");
        var e = assertThrows(ConfigException.class, () -> ModelConfig.load(dir));
        assertEquals("Model directory not found: " + dir
                + "; pass the checkpoint directory that holds config.json and the *.safetensors files", e.getMessage());
    }

    @Test
    void missingConfigJsonIsNamed(@TempDir Path tmp) {
        var e = assertThrows(ConfigException.class, () -> ModelConfig.load(tmp));
        assertEquals("No config.json in " + tmp
                + "; a Hugging Face checkpoint directory needs one (is this the right directory?)", e.getMessage());
    }

    @Test
    void invalidJsonReportsLineAndColumn(@TempDir Path tmp) {
        TestModels.writeRaw(tmp, "{\n  \"model_type\": \"qwen3_moe\",\n  \"hidden_size\": 256,,\n}");
        var e = assertThrows(ConfigException.class, () -> ModelConfig.load(tmp));
        assertTrue(e.getMessage().startsWith("Invalid JSON in " + tmp.resolve("config.json") + " at line 3, column 22: "),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("; fix the file or re-download the checkpoint"), e.getMessage());
    }

    @Test
    void missingRequiredFieldNamesFileAndFix(@TempDir Path tmp) {
        TestModels.writeConfig(tmp, Map.of("vocab_size", TestModels.REMOVE));
        var e = assertThrows(ConfigException.class, () -> ModelConfig.load(tmp));
        assertEquals(tmp.resolve("config.json") + " has no 'vocab_size'; every Hugging Face config.json must set it"
                + " (is the checkpoint complete? re-download it or add the field)", e.getMessage());
    }

    @Test
    void wrongFieldTypeNamesKeyAndExpectedType(@TempDir Path tmp) {
        TestModels.writeConfig(tmp, Map.of("hidden_size", "256"));
        var e = assertThrows(ConfigException.class, () -> ModelConfig.load(tmp));
        assertEquals("'hidden_size' in " + tmp.resolve("config.json")
                + " must be an integer, got \"256\" (string); fix the value", e.getMessage());
    }

    @Test
    void expertsWithoutTopKAreRejected(@TempDir Path tmp) {
        TestModels.writeConfig(tmp, Map.of("num_experts_per_tok", TestModels.REMOVE));
        var e = assertThrows(ConfigException.class, () -> ModelConfig.load(tmp));
        assertEquals(tmp.resolve("config.json") + " declares 8 experts but no 'num_experts_per_tok';"
                + " add the router's top-k to the file", e.getMessage());
    }
}
