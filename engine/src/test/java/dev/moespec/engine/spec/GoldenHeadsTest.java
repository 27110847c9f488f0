package dev.moespec.engine.spec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.proposer.DraftChunk;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.ProposalRequest;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.model.CpuMoeModel;
import dev.moespec.engine.model.MoeExecution;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.model.StepOutput;
import dev.moespec.engine.moe.MoeLayerSpecs;
import dev.moespec.engine.sampling.Sampler;
import dev.moespec.engine.spec.draft.DrafterFactory;
import dev.moespec.engine.wiring.Engine;
import dev.moespec.moe.MoeLayerSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The EAGLE, MTP and Medusa drafters against golden.json's {@code heads} (FORMAT.md §7 step 4): features from the
 * FP8 target in exact fp32 math, then each head's proposals through the real proposer, and its first-step top-5
 * logits through the drafter network. The heads' own math is fp32; the MTP layer's MoE runs on the draft role's
 * binding (cpu_reference, which rounds activations like the GPU kernels), hence the 2e-2 logit tolerance
 * (FORMAT.md §6: above 1e-2 relative to golden's margins of several units, greedy choices do not move).
 */
class GoldenHeadsTest {
    private static JsonNode golden;

    @BeforeAll
    static void load() throws Exception {
        golden = new ObjectMapper().readTree(Files.readString(DemoModels.dir().resolve("golden.json")));
    }

    @ParameterizedTest(name = "{0} prompt {1}")
    @CsvSource({"eagle,0", "eagle,1", "eagle,2", "eagle,3", "mtp,0", "mtp,1", "mtp,2", "mtp,3",
            "medusa,0", "medusa,1", "medusa,2", "medusa,3"})
    void proposalsAndFirstStepLogitsMatchGolden(String method, int prompt) {
        JsonNode p = golden.path("prompts").get(prompt);
        JsonNode heads = p.path("heads");
        ObjectMapper json = new ObjectMapper();
        int[] input = json.convertValue(p.path("input_ids"), int[].class);
        int[] context = json.convertValue(heads.path("context_ids"), int[].class);
        List<float[]> features = targetFeatures(input);
        int k = method.equals("medusa") ? 3 : 4;
        try (Engine engine = SpecPrompts.engine(method, k)) {
            DrafterFactory drafters = new DrafterFactory(engine.target().config(), engine.draft().orElseThrow(), 8L << 20);
            EngineProposerContext ctx = new EngineProposerContext(new ProposerSettings(k, 1, 1, 2048, 320), drafters,
                    dev.moespec.api.device.DeviceInfo.cpu("CPU test"));
            try (Proposer proposer = engine.proposers().require(method).create(ctx)) {
                int[] proposals = proposer.propose(new ProposalRequest(List.<int[]>of(context), List.of(0L),
                        List.of(features))).tokens(0);
                assertArrayEquals(json.convertValue(heads.path(method).path("proposals"), int[].class), proposals, method);
            }
            if (method.equals("medusa")) {
                try (var h = drafters.heads()) {
                    float[][] logits = h.logits(features.get(features.size() - 1));
                    for (int i = 0; i < 3; i++) assertTop5(heads.path("medusa").path("top5_per_head").get(i), logits[i]);
                }
            } else {
                try (DraftNetwork net = drafters.network(DraftNetworkKind.valueOf(method.toUpperCase(java.util.Locale.ROOT)))) {
                    int seq = net.open(64);
                    int[] entryTokens = Arrays.copyOfRange(context, 1, context.length);
                    float[] logits = net.forward(List.of(new DraftChunk(seq, entryTokens, features.toArray(float[][]::new))))
                            .lastLogits()[0];
                    assertTop5(heads.path(method).path("first_step_top5"), logits);
                }
            }
        }
    }

    private static void assertTop5(JsonNode expected, float[] logits) {
        int[] ids = new ObjectMapper().convertValue(expected.path("ids"), int[].class);
        float[] copy = logits.clone();
        for (int i = 0; i < 5; i++) {
            int best = Sampler.argmax(copy);
            assertEquals(ids[i], best, "top-5 rank " + i);
            assertEquals(expected.path("logits").get(i).asDouble(), logits[best], 2e-2, "logit of rank " + i);
            copy[best] = Float.NEGATIVE_INFINITY;
        }
    }

    /** h_0..h_{P-1} of the FP8 target (dequantised) in exact fp32 math, as golden's heads were made. */
    private static List<float[]> targetFeatures(int[] input) {
        ModelConfig cfg = ModelConfig.load(DemoModels.target());
        MoeLayerSpec spec = MoeLayerSpecs.of(cfg, cfg.quantization(), MoeLayerSpecs.DEFAULT_MAX_TOKENS).orElseThrow();
        try (CpuMoeModel target = new CpuMoeModel(Checkpoint.open(DemoModels.target(), CheckpointLayout.of(cfg)), spec,
                MoeExecution.exactFp32(spec), 8L << 20)) {
            int seq = target.open(input.length);
            StepOutput out = target.step(List.of(SequenceChunk.last(seq, input)));
            List<float[]> f = new ArrayList<>();
            for (int r = 0; r < input.length; r++) f.add(out.feature(0, r));
            return f;
        }
    }
}
