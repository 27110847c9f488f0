package dev.moespec.api.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One test per validation rule of vllm-spec.md §1.3–1.4, asserting the error text. */
class SpeculativeConfigRulesTest {

    private static SpeculativeConfig spec(String json) {
        return TestModels.withSpec(json).speculative().orElseThrow();
    }

    private static SpeculativeConfig spec(EngineConfig target, String json) {
        return SpeculativeConfig.resolve(SpeculativeSpec.parse(json), target, Path.of(""));
    }

    private static String error(String json) {
        return assertThrows(ConfigException.class, () -> spec(json)).getMessage();
    }

    private static String error(EngineConfig target, String json) {
        return assertThrows(ConfigException.class, () -> spec(target, json)).getMessage();
    }

    /** A target of {@code vocab_size} 320 in {@code tmp/target}, with {@code extra} config keys. */
    private static EngineConfig tempTarget(Path tmp, Map<String, ?> extra) {
        return EngineConfig.builder(ModelConfig.load(TestModels.writeConfig(tmp.resolve("target"), extra))).build();
    }

    // --- sibling drafts (a moespec key: the head's second choice beside each chain draft) ---

    @Test
    void siblingDraftsAreZeroUnlessGivenAndTakenForEagleAndMtp() {
        assertEquals(0, spec("{\"model\": \"demo-eagle\", \"num_speculative_tokens\": 4}").siblingDrafts());
        assertEquals(2, spec("{\"model\": \"demo-eagle\", \"num_speculative_tokens\": 4, \"sibling_drafts\": 2}")
                .siblingDrafts());
        assertEquals(3, spec("{\"method\": \"mtp\", \"num_speculative_tokens\": 3, \"sibling_drafts\": 3}").siblingDrafts());
    }

    @Test
    void siblingDraftsOutsideZeroToKOrOnAChainOnlyMethodAreErrorsThatSayWhy() {
        assertEquals("sibling_drafts=5 must be between 0 and num_speculative_tokens=4: at most one sibling per chain draft",
                error("{\"model\": \"demo-eagle\", \"num_speculative_tokens\": 4, \"sibling_drafts\": 5}"));
        assertEquals("sibling_drafts in --speculative-config must be >= 0, got -1",
                error("{\"model\": \"demo-eagle\", \"num_speculative_tokens\": 4, \"sibling_drafts\": -1}"));
        assertEquals("sibling_drafts applies to eagle and mtp (the head's second choice beside each chain draft); method"
                        + " 'ngram' drafts chains only: drop \"sibling_drafts\"",
                error("{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"sibling_drafts\": 1}"));
        assertEquals(0, spec("{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"sibling_drafts\": 0}").siblingDrafts());
    }

    // --- method inference and rewriting ---

    @Test
    void ngramModelInfersNgram() {
        assertEquals("ngram", spec("{\"model\": \"ngram\", \"num_speculative_tokens\": 3}").method());
        assertEquals("ngram", spec("{\"model\": \"[ngram]\", \"num_speculative_tokens\": 3}").method());
    }

    @Test
    void aModelPathInfersDraftModelRefinedFromTheCheckpoint() {
        assertEquals("draft_model", spec("{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3}").method());
        assertEquals("eagle", spec("{\"model\": \"demo-eagle\", \"num_speculative_tokens\": 3}").method());
        assertEquals("medusa", spec("{\"model\": \"demo-medusa\", \"num_speculative_tokens\": 3}").method());
        assertEquals("mtp", spec("{\"model\": \"demo-mtp\"}").method());
    }

    @Test
    void eagle3IsDetectedFromTheDirectoryName(@TempDir Path tmp) {
        EngineConfig target = tempTarget(tmp, Map.of());
        TestModels.writeConfig(tmp.resolve("my-EAGLE3-head"), Map.of("model_type", "llama"));
        assertEquals("eagle3", spec(target, "{\"model\": \"my-EAGLE3-head\", \"num_speculative_tokens\": 2}").method());
    }

    @Test
    void anExplicitMethodIsNotRefined() {
        assertEquals("draft_model",
                spec("{\"method\": \"draft_model\", \"model\": \"demo-mtp\", \"num_speculative_tokens\": 1}").method());
    }

    @Test
    void modelSpecificMtpNamesAreRewrittenWithAWarning() {
        SpeculativeConfig s = spec("{\"method\": \"qwen3_next_mtp\", \"num_speculative_tokens\": 1}");
        assertEquals("mtp", s.method());
        assertEquals(List.of("method `qwen3_next_mtp` is deprecated and replaced with mtp."), s.warnings());
    }

    @Test
    void pluginMethodsAreAcceptedWithoutExtraRules() {
        SpeculativeConfig s = spec("{\"method\": \"my_proposer\", \"model\": \"com.acme.Thing\", \"num_speculative_tokens\": 2}");
        assertEquals("my_proposer", s.method());
        assertEquals(Optional.of("com.acme.Thing"), s.model());
        assertEquals(Optional.empty(), s.draftModelConfig());
    }

    @Test
    void methodNamesMustBeLowerSnake() {
        assertEquals("Unsupported speculative method: 'eagle!'; use one of"
                + " [draft_model, eagle, eagle3, medusa, mtp, ngram] or a proposer plugin's lower_snake name",
                error("{\"method\": \"Eagle!\", \"num_speculative_tokens\": 2}"));
    }

    @Test
    void neitherMethodNorModelIsAnError() {
        assertEquals("--speculative-config needs \"method\" or \"model\", e.g."
                + " '{\"method\": \"ngram\", \"num_speculative_tokens\": 3}'", error("{}"));
    }

    // --- model missing but K given ---

    @Test
    void mtpWithoutModelFindsTheCheckpointBesideTheTarget() {
        SpeculativeConfig s = spec("{\"method\": \"mtp\", \"num_speculative_tokens\": 1}");
        assertEquals(Optional.of(TestModels.MTP.toString()), s.model());
        assertEquals("demo_qwen3_moe_mtp", s.draftModelConfig().orElseThrow().modelType());
    }

    @Test
    void mtpWithoutModelUsesTheTargetWhenItHoldsTheMtpLayers(@TempDir Path tmp) {
        EngineConfig target = tempTarget(tmp, Map.of("num_nextn_predict_layers", 1,
                "quantization_config", Map.of("quant_method", "fp8", "weight_block_size", List.of(128, 128))));
        SpeculativeConfig s = spec(target, "{\"method\": \"mtp\", \"num_speculative_tokens\": 1}");
        assertEquals(Optional.of(target.model()), s.draftModelConfig());
        assertEquals(QuantScheme.FP8_BLOCK_128, s.draftQuant().moeScheme());
    }

    @Test
    void mtpWithoutModelAndNoWeightsSaysWhereItLooked(@TempDir Path tmp) {
        EngineConfig target = tempTarget(tmp, Map.of());
        assertEquals("method 'mtp' without \"model\": no MTP weights for target inside the target ("
                + tmp.resolve("target/config.json") + " has no num_nextn_predict_layers > 0) or beside it (no directory"
                + " in " + tmp + " has a config.json with a model_type ending in '_mtp' and speculative.target_model"
                + " \"target\"); pass \"model\" in --speculative-config",
                error(target, "{\"method\": \"mtp\", \"num_speculative_tokens\": 1}"));
    }

    @Test
    void ngramWithoutModelGetsModelNgram() {
        assertEquals(Optional.of("ngram"), spec("{\"method\": \"ngram\", \"num_speculative_tokens\": 3}").model());
    }

    @Test
    void otherMethodsWithKButNoModelUseVllmsText() {
        assertEquals("num_speculative_tokens was provided but without speculative model.",
                error("{\"method\": \"eagle\", \"num_speculative_tokens\": 3}"));
        assertEquals("num_speculative_tokens was provided but without speculative model.",
                error("{\"num_speculative_tokens\": 3}"));
    }

    // --- ngram bounds ---

    @Test
    void ngramBoundsDefaultToFiveAndCopyEachOther() {
        SpeculativeConfig none = spec("{\"method\": \"ngram\", \"num_speculative_tokens\": 3}");
        assertEquals(List.of(5, 5), List.of(none.promptLookupMin(), none.promptLookupMax()));
        SpeculativeConfig onlyMin = spec("{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"prompt_lookup_min\": 2}");
        assertEquals(List.of(2, 2), List.of(onlyMin.promptLookupMin(), onlyMin.promptLookupMax()));
        SpeculativeConfig onlyMax = spec("{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"prompt_lookup_max\": 7}");
        assertEquals(List.of(7, 7), List.of(onlyMax.promptLookupMin(), onlyMax.promptLookupMax()));
    }

    @Test
    void ngramMinAboveMaxUsesVllmsText() {
        assertEquals("prompt_lookup_min=4 must be <= prompt_lookup_max=2", error("{\"method\": \"ngram\","
                + " \"num_speculative_tokens\": 3, \"prompt_lookup_min\": 4, \"prompt_lookup_max\": 2}"));
    }

    @Test
    void ngramBoundsMustBePositive() {
        assertEquals("prompt_lookup_min=0 must be > 0",
                error("{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"prompt_lookup_min\": 0}"));
    }

    // --- trap field, K ---

    @Test
    void tensorParallelSizeIsATrap() {
        assertEquals("'tensor_parallel_size' is not a valid argument in the speculative_config."
                + " Please pass 'draft_tensor_parallel_size' instead.",
                error("{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3, \"tensor_parallel_size\": 1}"));
    }

    @Test
    void numSpeculativeTokensMustBePositive() {
        assertEquals("Expected num_speculative_tokens to be greater than zero (0).",
                error("{\"method\": \"ngram\", \"num_speculative_tokens\": 0}"));
    }

    @Test
    void numSpeculativeTokensDefaultsToNPredict() {
        assertEquals(1, spec("{\"method\": \"mtp\"}").numSpeculativeTokens());
    }

    @Test
    void kAboveNPredictMustBeAMultiple(@TempDir Path tmp) {
        EngineConfig target = tempTarget(tmp, Map.of());
        TestModels.writeConfig(tmp.resolve("heads"), Map.of("n_predict", 2));
        assertEquals("num_speculative_tokens:3 must be divisible by n_predict=2",
                error(target, "{\"model\": \"heads\", \"num_speculative_tokens\": 3}"));
        assertEquals(4, spec(target, "{\"model\": \"heads\", \"num_speculative_tokens\": 4}").numSpeculativeTokens());
        assertEquals(1, spec(target, "{\"model\": \"heads\", \"num_speculative_tokens\": 1}").numSpeculativeTokens());
    }

    @Test
    void singleMtpLayerRunRepeatedlyWarns() {
        SpeculativeConfig s = spec("{\"method\": \"mtp\", \"num_speculative_tokens\": 3}");
        assertEquals(List.of("num_speculative_tokens=3 with a single MTP layer runs that layer 3 times per step,"
                + " which may lower the acceptance rate"), s.warnings());
    }

    @Test
    void kMissingWithAModelWithoutNPredictUsesVllmsText() {
        assertEquals("A speculative model was provided, but `num_speculative_tokens` was not provided",
                error("{\"model\": \"demo-draft\"}"));
    }

    @Test
    void kMissingWithoutAModelUsesVllmsVerifyText() {
        assertEquals("num_speculative_tokens must be provided with speculative model unless the draft model config"
                + " contains an n_predict parameter.", error("{\"method\": \"ngram\"}"));
    }

    // --- draft TP ---

    @Test
    void draftTpDefaultsToTheTargetsAndMayBeOne() {
        EngineConfig tp2 = EngineConfig.builder(TestModels.target()).tensorParallelSize(2).build();
        assertEquals(2, spec(tp2, "{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3}").draftTensorParallelSize());
        assertEquals(1, spec(tp2, "{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3,"
                + " \"draft_tensor_parallel_size\": 1}").draftTensorParallelSize());
    }

    @Test
    void draftTpOtherThanOneOrTheTargetsUsesVllmsText() {
        EngineConfig tp2 = EngineConfig.builder(TestModels.target()).tensorParallelSize(2).build();
        assertEquals("speculative_draft_tensor_parallel_size=4 cannot be other value than 1 or target model"
                + " tensor_parallel_size", error(tp2, "{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3,"
                + " \"draft_tensor_parallel_size\": 4}"));
    }

    // --- draft max_model_len ---

    @Test
    void draftMaxModelLenDefaultsToTheSmallerLimit() {
        EngineConfig shortTarget = EngineConfig.builder(TestModels.target()).maxModelLen(1024).build();
        assertEquals(1024, spec(shortTarget, "{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3}").draftMaxModelLen());
        assertEquals(512, spec(shortTarget, "{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3,"
                + " \"max_model_len\": 512}").draftMaxModelLen());
    }

    @Test
    void draftMaxModelLenAboveTheDraftsLimitNamesTheDraftBound() {
        assertEquals("speculative_max_model_len=4096 cannot be larger than draft_max_model_len=2048",
                error("{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3, \"max_model_len\": 4096}"));
    }

    @Test
    void draftMaxModelLenAboveTheTargetsLimitNamesTheTargetBound() {
        EngineConfig shortTarget = EngineConfig.builder(TestModels.target()).maxModelLen(1024).build();
        assertEquals("speculative_max_model_len=1500 cannot be larger than target_max_model_len=1024",
                error(shortTarget, "{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3, \"max_model_len\": 1500}"));
    }

    @Test
    void eagleHeadsAreRaisedToTheTargetsLength(@TempDir Path tmp) {
        EngineConfig target = tempTarget(tmp, Map.of());
        TestModels.writeConfig(tmp.resolve("eagle-head"), Map.of("max_position_embeddings", 512));
        SpeculativeConfig s = spec(target, "{\"model\": \"eagle-head\", \"num_speculative_tokens\": 2}");
        assertEquals("eagle", s.method());
        assertEquals(2048, s.draftMaxModelLen());
    }

    // --- vocabulary, paths ---

    @Test
    void draftModelVocabularyMustMatchUsingVllmsText(@TempDir Path tmp) {
        EngineConfig target = tempTarget(tmp, Map.of());
        TestModels.writeConfig(tmp.resolve("big-vocab"), Map.of("vocab_size", 32000));
        assertEquals("Target and draft model should have the same vocabulary size. Target model vocab_size=320."
                + " Draft model vocab_size=32000. Using models with different tokenizers can cause out-of-bounds"
                + " errors during speculative decoding.",
                error(target, "{\"model\": \"big-vocab\", \"num_speculative_tokens\": 3}"));
    }

    @Test
    void relativeModelPathsResolveAgainstTheWorkingDirectoryThenBesideTheTarget() {
        // surefire's working directory is the api module: ../models/demo-draft is found there first.
        assertEquals(Optional.of(TestModels.DRAFT.toString()),
                spec("{\"model\": \"../models/demo-draft\", \"num_speculative_tokens\": 3}").model());
        assertEquals(Optional.of(TestModels.DRAFT.toString()),
                spec("{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3}").model());
        assertEquals(Optional.of(TestModels.DRAFT.toString()),
                spec("{\"model\": \"" + TestModels.DRAFT + "\", \"num_speculative_tokens\": 3}").model());
    }

    @Test
    void missingDraftDirectoryIsNamed() {
        Path cwd = Path.of("").toAbsolutePath();
        assertEquals("Draft model directory not found: \"no-such-draft\" (looked in " + cwd.resolve("no-such-draft")
                + " and " + TestModels.DIR.resolve("no-such-draft") + "); pass the path of an existing checkpoint"
                + " directory as \"model\" in --speculative-config",
                error("{\"model\": \"no-such-draft\", \"num_speculative_tokens\": 3}"));
    }

    // --- derived quantization ---

    @Test
    void draftQuantIsRecomputedFromTheDraftCheckpointUnlessTheSpecSetsIt() {
        assertEquals(QuantScheme.BF16,
                spec("{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3}").draftQuant().moeScheme());
        assertEquals(QuantScheme.FP8_PER_TENSOR, spec("{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3,"
                + " \"quantization\": \"fp8\"}").draftQuant().moeScheme());
    }

    @Test
    void quantizationIsIgnoredWithAWarningWithoutACheckpoint() {
        SpeculativeConfig s = spec("{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"quantization\": \"fp8\"}");
        assertEquals(TestModels.target().quantization(), s.draftQuant());
        assertTrue(s.warnings().contains("quantization 'fp8' is ignored: method 'ngram' has no draft checkpoint"));
    }
}
