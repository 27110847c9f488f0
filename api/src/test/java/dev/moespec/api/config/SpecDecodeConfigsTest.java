package dev.moespec.api.config;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The spec-decode config builder: vLLM PR #37880's test_draft_moe_backend, per method and case. */
class SpecDecodeConfigsTest {

    /** The three drafters of the upstream test; mtp has no model: its checkpoint is found beside the target. */
    enum Drafter {
        DRAFT_MODEL("draft_model", "\"model\": \"demo-draft\", \"num_speculative_tokens\": 3"),
        EAGLE("eagle", "\"model\": \"demo-eagle\", \"num_speculative_tokens\": 3"),
        MTP("mtp", "\"method\": \"mtp\", \"num_speculative_tokens\": 1");

        final String method;
        final String json;

        Drafter(String method, String json) {
            this.method = method;
            this.json = json;
        }
    }

    /** target --moe-backend, spec moe_backend (null = unset), expected draft backend. */
    enum BackendCase {
        OVERRIDE("flashinfer_trtllm", "triton", "triton"),
        INHERIT("flashinfer_trtllm", null, "flashinfer_trtllm"),
        DEFAULT("auto", null, "auto");

        final String target;
        final String spec;
        final String expectedDraft;

        BackendCase(String target, String spec, String expectedDraft) {
            this.target = target;
            this.spec = spec;
            this.expectedDraft = expectedDraft;
        }
    }

    static Stream<Arguments> drafterTimesCase() {
        List<Arguments> all = new ArrayList<>();
        for (Drafter d : Drafter.values()) for (BackendCase c : BackendCase.values()) all.add(Arguments.of(d, c));
        return all.stream();
    }

    private static EngineConfig target(String moeBackend, String specJsonBody) {
        return EngineConfig.builder(TestModels.target()).moeBackend(moeBackend)
                .speculativeConfigJson("{" + specJsonBody + "}").build();
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("drafterTimesCase")
    void draftMoeBackend(Drafter drafter, BackendCase backend) {
        String body = drafter.json + (backend.spec == null ? "" : ", \"moe_backend\": \"" + backend.spec + "\"");
        EngineConfig target = target(backend.target, body);
        EngineConfig before = target.withKernel(new KernelConfig(target.kernel().moeBackend()));
        SpeculativeConfig spec = target.speculative().orElseThrow();
        assertEquals(drafter.method, spec.method());

        EngineConfig draft = DraftConfigStrategy.defaultFor(spec.method()).apply(target);

        assertEquals(backend.expectedDraft, draft.kernel().moeBackend());
        assertEquals(backend.target, target.kernel().moeBackend(), "the target keeps its own backend");
        assertEquals(before, target, "the target config is not modified");
        assertNotSame(target, draft);
    }

    @Test
    void withoutASpeculativeConfigBothBuildersReturnTheTargetItself() {
        EngineConfig target = TestModels.targetConfig("flashinfer_trtllm", 1);
        assertSame(target, SpecDecodeConfigs.forSpecDecode(target));
        assertSame(target, SpecDecodeConfigs.forDraftModel(target));
        assertSame(target, DraftConfigStrategy.FOR_DRAFT_MODEL.apply(target));
    }

    @Test
    void draftModelGetsItsOwnModelBf16QuantAndTp1() {
        EngineConfig target = target("flashinfer_trtllm", "\"model\": \"demo-draft\", \"num_speculative_tokens\": 3");
        EngineConfig draft = SpecDecodeConfigs.forDraftModel(target);
        assertEquals(TestModels.DRAFT, draft.model().path());
        assertEquals(QuantConfig.none(QuantScheme.BF16), draft.quant());
        assertEquals(ParallelConfig.single(), draft.parallel());
        assertEquals(2048, draft.maxModelLen());
        assertEquals(QuantScheme.FP8_BLOCK_128, target.quant().moeScheme());
        assertEquals(TestModels.TARGET, target.model().path());
    }

    @Test
    void draftModelAtTp1KeepsTheTargetRank() {
        EngineConfig target = EngineConfig.builder(TestModels.target()).tensorParallelSize(2).rank(1)
                .speculativeConfigJson("{\"model\": \"demo-draft\", \"num_speculative_tokens\": 3,"
                        + " \"draft_tensor_parallel_size\": 1}").build();
        assertEquals(new ParallelConfig(1, 1, 1), SpecDecodeConfigs.forDraftModel(target).parallel());
        assertEquals(new ParallelConfig(2, 1, 1), target.parallel());
    }

    @Test
    void mtpDraftQuantIsBf16WhileTheTargetIsFp8Block() {
        EngineConfig target = target("auto", "\"method\": \"mtp\", \"num_speculative_tokens\": 1");
        SpeculativeConfig spec = target.speculative().orElseThrow();
        assertEquals(QuantScheme.BF16, spec.draftQuant().moeScheme());
        assertEquals(QuantScheme.FP8_BLOCK_128, target.quant().moeScheme());
        // forSpecDecode keeps the target's model and quant: the MTP proposer loads its layer from draftModelConfig.
        EngineConfig draft = SpecDecodeConfigs.forSpecDecode(target);
        assertEquals(target.quant(), draft.quant());
        assertEquals(TestModels.MTP, spec.draftModelConfig().orElseThrow().path());
    }

    @Test
    void forDraftModelWithoutACheckpointExplainsWhichStrategyToUse() {
        EngineConfig target = target("auto", "\"method\": \"ngram\", \"num_speculative_tokens\": 3");
        var e = assertThrows(ConfigException.class, () -> SpecDecodeConfigs.forDraftModel(target));
        assertEquals("method 'ngram' has no draft checkpoint, so there is no draft model config to build;"
                + " use DraftConfigStrategy.FOR_SPEC_DECODE for this proposer, or pass \"model\"", e.getMessage());
    }

    @Test
    void defaultStrategyIsDraftModelOnlyForDraftModel() {
        assertEquals(DraftConfigStrategy.FOR_DRAFT_MODEL, DraftConfigStrategy.defaultFor("draft_model"));
        for (String m : List.of("eagle", "eagle3", "mtp", "medusa", "ngram", "my_plugin")) {
            assertEquals(DraftConfigStrategy.FOR_SPEC_DECODE, DraftConfigStrategy.defaultFor(m), m);
        }
    }
}
