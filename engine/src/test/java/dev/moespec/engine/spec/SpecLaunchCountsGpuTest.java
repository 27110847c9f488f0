package dev.moespec.engine.spec;

import dev.moespec.engine.cuda.CudaRunners;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.wiring.Engine;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which plugin's kernels each role ran, proven by counting launches (LaunchLedger), not by reading the config: a
 * speculative run on the GPU, then per role the set of MoE backend images with launches must be exactly the expected
 * one, and the engine's own kernels ran in both roles.
 */
@Tag("gpu")
class SpecLaunchCountsGpuTest {
    private static final String ENGINE = "moespec-engine";
    private static final String PROPOSERS = "moespec-proposers";
    private static final String PREFIX = "moespec-backend-";
    private static final SamplingParams GREEDY = new SamplingParams(0, 0, 1, OptionalLong.empty(), 24, true);

    @BeforeEach
    void gpu() {
        Assumptions.assumeTrue(CudaRunners.unavailableReason().isEmpty(),
                () -> "CUDA runner unavailable: " + CudaRunners.unavailableReason().orElse(""));
    }

    /** The kernel image of a backend name: {@code flashinfer_trtllm} → {@code moespec-backend-flashinfer-trtllm}. */
    static String image(String backend) {
        return PREFIX + backend.replace('_', '-');
    }

    /**
     * @param draftBackend  {@code "moe_backend"} of the speculative config; {@code -} = unset (inherit)
     * @param expectTarget  the backend whose kernels the target must have run; {@code bound} = the one its binding
     *                      reports (auto)
     * @param expectDraft   likewise for the draft; {@code none} = no MoE launches under the draft at all
     */
    @ParameterizedTest(name = "{0} k={1}: target {2} -> {4}, draft {3} -> {5}")
    @CsvSource({
            // the seed scenario
            "mtp,         2, flashinfer_trtllm, triton, flashinfer_trtllm, triton",
            // inherit: flashinfer cannot run the BF16 MTP layer, so the draft falls back (to triton)
            "mtp,         2, flashinfer_trtllm, -,      flashinfer_trtllm, triton",
            "draft_model, 3, flashinfer_trtllm, triton, flashinfer_trtllm, triton",
            "draft_model, 3, flashinfer_trtllm, -,      flashinfer_trtllm, triton",
            "eagle,       3, flashinfer_trtllm, -,      flashinfer_trtllm, none",
            "medusa,      3, flashinfer_trtllm, -,      flashinfer_trtllm, none",
            "ngram,       3, flashinfer_trtllm, -,      flashinfer_trtllm, none",
            // auto for both roles: whatever each binding chose is what ran, and nothing else
            "mtp,         2, auto,              -,      bound,             bound",
            "draft_model, 2, auto,              auto,   bound,             bound"})
    void eachRoleRanItsOwnBackend(String method, int k, String targetBackend, String draftBackend, String expectTarget,
                                  String expectDraft) {
        try (Engine engine = SpecPrompts.gpuEngine(method, k, targetBackend, draftBackend.equals("-") ? null : draftBackend);
             SpecDecodeSession session = SpecDecodeSession.open(engine, SpecPrompts.KV)) {
            SpecMetrics m = session.generator(SpecPrompts.BOS).generate(SpecPrompts.load(2), GREEDY, BatchListener.NONE)
                    .metrics();
            Map<String, Map<String, Long>> launches = m.launches();
            System.out.printf("%s k=%d target=%s draft=%s: %s (backends %s)%n", method, k, targetBackend, draftBackend,
                    launches, session.backends());
            assertEquals(expected(expectTarget, session.backends().get("target")), backendImages(launches, "target"),
                    "MoE backends the target launched");
            Set<String> draft = expectDraft.equals("none") ? Set.of()
                    : expected(expectDraft, session.backends().get("draft"));
            assertEquals(draft, backendImages(launches, "draft"), "MoE backends the draft launched");
            assertTrue(m.launches("target", ENGINE) > 0, "the target ran the engine's kernels: " + launches);
            if (!method.equals("ngram")) {
                assertTrue(m.launches("draft", ENGINE) > 0, "the drafter ran on the GPU: " + launches);
            } else {
                // n-gram lookup has no network: its only draft-role launches are its own matching kernel (proposers' jar)
                assertEquals(Set.of(PROPOSERS), launches.getOrDefault("draft", Map.of()).keySet(),
                        "ngram drafts with the proposers' n-gram kernel on the GPU: " + launches);
            }
            assertEquals(Set.of(), Set.copyOf(launches.keySet()).stream().filter(r -> !r.equals("target") && !r.equals("draft"))
                    .collect(java.util.stream.Collectors.toSet()), "every launch is in a role scope");
            assertTrue(m.drafts() > 0, "the proposer drafted");
        }
    }

    /** The expected images: {@code expect}'s, or for {@code bound} the binding's (both, when decode and prefill differ). */
    private static Set<String> expected(String expect, String bound) {
        if (!expect.equals("bound")) return Set.of(image(expect));
        Set<String> out = new TreeSet<>();
        for (String part : bound.split(",")) out.add(image(part.replace("(decode)", "").replace("(prefill)", "").strip()));
        return out;
    }

    private static Set<String> backendImages(Map<String, Map<String, Long>> launches, String role) {
        Set<String> out = new TreeSet<>();
        launches.getOrDefault(role, Map.of()).forEach((image, n) -> {
            if (image.startsWith(PREFIX) && n > 0) out.add(image);
        });
        return out;
    }

}
