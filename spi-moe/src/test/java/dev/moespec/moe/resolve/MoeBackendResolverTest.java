package dev.moespec.moe.resolve;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.Phase;
import dev.moespec.moe.fakes.FakeBackend;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import dev.moespec.moe.registry.MoeBackendRegistry;
import dev.moespec.moe.registry.UnknownMoeBackendException;
import dev.moespec.moe.resolve.SelectionReport.CandidateReport;
import dev.moespec.moe.resolve.SelectionReport.Status;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static dev.moespec.moe.resolve.Fixtures.*;
import static org.junit.jupiter.api.Assertions.*;

class MoeBackendResolverTest {
    private static final String H100 = DeviceProfiles.H100.describe();

    @Test
    void pinnedTargetServesBothPhases() {
        MoeBinding b = resolver().resolveTarget("FlashInfer-TRTLLM", FP8_LAYER, DeviceProfiles.H100);
        assertEquals(SelectionMode.PINNED, b.mode());
        assertEquals("flashinfer_trtllm", b.requested());
        assertEquals("flashinfer_trtllm", b.choiceFor(1).backend());
        assertEquals("flashinfer_trtllm", b.choiceFor(4096).backend());
        assertEquals("pinned by --moe-backend", b.choiceFor(Phase.PREFILL).rationale());
        assertEquals(List.of(
                new CandidateReport("cpu_reference", Status.ELIGIBLE_NOT_CHOSEN, "eligible; not considered because --moe-backend selects 'flashinfer_trtllm'"),
                new CandidateReport("flashinfer_trtllm", Status.CHOSEN, "chosen for decode and prefill"),
                new CandidateReport("triton", Status.ELIGIBLE_NOT_CHOSEN, "eligible; not considered because --moe-backend selects 'flashinfer_trtllm'")),
                b.report().candidates());
    }

    @Test
    void pinnedTargetThatCannotRunTheLayerNamesTheFix() {
        var e = assertThrows(MoeBackendSelectionException.class,
                () -> resolver().resolveTarget("flashinfer_trtllm", BF16_LAYER, DeviceProfiles.H100));
        assertEquals("The target's MoE backend 'flashinfer_trtllm' (--moe-backend) cannot run layer " + BF16_LAYER.describe() + " on "
                + H100 + ": UNSUPPORTED_QUANTIZATION: serves fp8_block_128 only, got bf16. Pass --moe-backend auto or one of the "
                + "eligible backends: cpu_reference, triton.", e.getMessage());
        assertEquals(ModelRole.TARGET, e.role());
    }

    @Test
    void pinnedDraftThatCannotRunTheLayerPointsAtTheSpeculativeConfig() {
        var e = assertThrows(MoeBackendSelectionException.class,
                () -> resolver().resolveDraft("flashinfer_trtllm", "triton", BF16_LAYER, DeviceProfiles.H100));
        assertTrue(e.getMessage().startsWith("The draft's MoE backend 'flashinfer_trtllm' (\"moe_backend\" in --speculative-config) "
                + "cannot run layer"), e.getMessage());
        assertTrue(e.getMessage().endsWith("Set \"moe_backend\" in --speculative-config to auto or one of: cpu_reference, triton."),
                e.getMessage());
    }

    @Test
    void pinnedUnknownIsARegistryError() {
        var e = assertThrows(UnknownMoeBackendException.class, () -> resolver().resolveDraft("tritno", null, BF16_LAYER, DeviceProfiles.H100));
        assertEquals("Unknown MoE backend 'tritno' (\"moe_backend\" in --speculative-config). Available: auto, cpu_reference, "
                + "flashinfer_trtllm, triton. Did you mean 'triton'?", e.getMessage());
    }

    @Test
    void pinnedExcludedIsRefusedWithTheExclusionAsReason() {
        var resolver = new MoeBackendResolver(registry(Set.of("triton")));
        var e = assertThrows(MoeBackendSelectionException.class, () -> resolver.resolveTarget("triton", BF16_LAYER, DeviceProfiles.H100));
        assertEquals("The target's MoE backend 'triton' (--moe-backend) is excluded by the registry's exclusion set [triton]. Remove "
                + "it from the exclusion, or pass --moe-backend auto or one of the eligible backends: cpu_reference.", e.getMessage());
    }

    @Test
    void autoFollowsThePolicyPerPhaseAndReportsEveryLoser() {
        MoeBinding b = resolver().resolveTarget(null, FP8_LAYER, DeviceProfiles.H100);
        assertEquals(SelectionMode.AUTO, b.mode());
        assertEquals("auto", b.requested());
        assertEquals("flashinfer_trtllm", b.choiceFor(64).backend());
        assertEquals("triton", b.choiceFor(65).backend());
        assertEquals("policy heuristic-table: fp8 decode: tensor cores", b.choiceFor(Phase.DECODE).rationale());
        assertEquals("heuristic-table", b.report().policy());
        assertEquals(List.of(
                new CandidateReport("cpu_reference", Status.ELIGIBLE_NOT_CHOSEN, "eligible; the CPU fallback is not auto-selected on a GPU; pin it to use it"),
                new CandidateReport("flashinfer_trtllm", Status.CHOSEN, "chosen for decode; ranked below 'triton' by heuristic-table for prefill"),
                new CandidateReport("triton", Status.CHOSEN, "ranked below 'flashinfer_trtllm' by heuristic-table for decode; chosen for prefill")),
                b.report().candidates());
        assertEquals(List.of("policy heuristic-table ranks 'deep_gemm', which no jar provides"), b.report().notes());
    }

    @Test
    void autoSkipsIneligibleAndExcludedBackendsAndSaysSo() {
        MoeBinding b = resolver().resolveTarget("auto", BF16_LAYER, DeviceProfiles.H100);
        assertEquals("triton", b.choiceFor(1).backend());
        assertEquals("policy heuristic-table: portable; skipped flashinfer_trtllm (UNSUPPORTED_QUANTIZATION)", b.choiceFor(1).rationale());
        assertEquals(new CandidateReport("flashinfer_trtllm", Status.REJECTED, "UNSUPPORTED_QUANTIZATION: serves fp8_block_128 only, got bf16"),
                b.report().candidates().get(1));

        MoeBinding excluded = new MoeBackendResolver(registry(Set.of("flashinfer_trtllm"))).resolveTarget("auto", FP8_LAYER, DeviceProfiles.H100);
        assertEquals("triton", excluded.choiceFor(1).backend());
        assertEquals(new CandidateReport("flashinfer_trtllm", Status.EXCLUDED, "excluded by the registry's exclusion set [flashinfer_trtllm]"),
                excluded.report().candidates().get(1));
    }

    @Test
    void autoWithNothingEligibleOnAGpuListsEveryRejection() {
        var resolver = new MoeBackendResolver(registry(Set.of("triton")));
        var e = assertThrows(MoeBackendSelectionException.class, () -> resolver.resolveTarget("auto", BF16_LAYER, DeviceProfiles.H100));
        assertEquals("No MoE backend can run the target's layer " + BF16_LAYER.describe() + " on " + H100 + " for decode (policy "
                + "heuristic-table). Rejections: flashinfer_trtllm: UNSUPPORTED_QUANTIZATION: serves fp8_block_128 only, got bf16; "
                + "triton: EXCLUDED: excluded by the registry's exclusion set [triton]. Eligible but not ranked by heuristic-table: "
                + "cpu_reference; pass --moe-backend one of them to use it.", e.getMessage());
    }

    @Test
    void autoOnACpuDeviceFallsToTheReferenceKernelAsLastResort() {
        MoeBinding b = resolver().resolveTarget("auto", FP8_LAYER, DeviceProfiles.NO_GPU);
        assertEquals("cpu_reference", b.choiceFor(1).backend());
        assertEquals("cpu_reference", b.choiceFor(1000).backend());
        assertEquals("last resort on a CPU device: no backend ranked by heuristic-table is eligible", b.choiceFor(1).rationale());
        assertEquals(Status.REJECTED, b.report().candidates().get(2).status());
    }

    @Test
    void withoutAPolicyBackendsGoByNameAndTheReferenceIsOnlyACpuFallback() {
        var registry = MoeBackendRegistry.of(List.of(TRITON, FakeBackend.eligible("aaa_kernels"), new CpuReferenceBackendProvider()),
                List.of(), Set.of());
        MoeBinding gpu = new MoeBackendResolver(registry).resolveTarget("auto", BF16_LAYER, DeviceProfiles.H100);
        assertEquals("aaa_kernels", gpu.choiceFor(1).backend());
        assertEquals("by-name", gpu.report().policy());
        assertEquals(new CandidateReport("cpu_reference", Status.ELIGIBLE_NOT_CHOSEN,
                "eligible; the CPU fallback is not auto-selected on a GPU; pin it to use it"),
                gpu.report().candidates().get(1));

        var cpuOnly = MoeBackendRegistry.of(List.of(TRITON, new CpuReferenceBackendProvider()), List.of(), Set.of());
        MoeBinding cpu = new MoeBackendResolver(cpuOnly).resolveTarget("auto", BF16_LAYER, DeviceProfiles.NO_GPU);
        assertEquals("cpu_reference", cpu.choiceFor(1).backend());
        assertEquals("no GPU: the fp32 CPU reference kernel; skipped triton (NO_DEVICE)", cpu.choiceFor(1).rationale());
    }

    @Test
    void draftWithoutMoeBackendInheritsAuto() {
        MoeBinding b = resolver().resolveDraft(null, null, BF16_LAYER, DeviceProfiles.H100);
        assertEquals(SelectionMode.AUTO, b.mode());
        assertEquals(ModelRole.DRAFT, b.role());
        assertEquals(MoeBackendResolver.INHERITED_SOURCE, b.report().requestSource());
    }

    @Test
    void draftInheritsAPinnedBackendThatCanRunItsLayers() {
        MoeBinding b = resolver().resolveDraft(null, "triton", BF16_LAYER, DeviceProfiles.H100);
        assertEquals(SelectionMode.INHERITED, b.mode());
        assertEquals("triton", b.choiceFor(1).backend());
        assertEquals("inherited from --moe-backend", b.choiceFor(1).rationale());
        assertTrue(b.report().fallback().isEmpty());
    }

    @Test
    void draftFallsBackToAutoWhenTheInheritedBackendCannotRunItsLayers() {
        // vllm#56832: an FP8 target pinned to a quantized-only backend, an unquantized draft
        MoeBinding target = resolver().resolveTarget("flashinfer_trtllm", FP8_LAYER, DeviceProfiles.H100);
        MoeBinding draft = resolver().resolveDraft(null, "flashinfer_trtllm", BF16_LAYER, DeviceProfiles.H100);
        assertEquals(SelectionMode.FALLBACK, draft.mode());
        assertEquals("triton", draft.choiceFor(1).backend());
        assertEquals("triton", draft.choiceFor(1000).backend());
        assertEquals("inherited 'flashinfer_trtllm' from --moe-backend cannot run the draft's layers (UNSUPPORTED_QUANTIZATION: "
                + "serves fp8_block_128 only, got bf16); fell back to auto. Set \"moe_backend\" in --speculative-config to choose "
                + "explicitly.", draft.report().fallback().orElseThrow());
        // the target's binding is its own: nothing the draft resolved changes it
        assertEquals("flashinfer_trtllm", target.choiceFor(1).backend());
        assertEquals(SelectionMode.PINNED, target.mode());
    }

    @Test
    void draftOverrideWinsOverTheTarget() {
        MoeBinding b = resolver().resolveDraft("Triton", "flashinfer_trtllm", BF16_LAYER, DeviceProfiles.H100);
        assertEquals(SelectionMode.PINNED, b.mode());
        assertEquals("triton", b.requested());
        assertEquals("pinned by " + MoeBackendResolver.DRAFT_SOURCE, b.choiceFor(1).rationale());
        MoeBinding auto = resolver().resolveDraft("auto", "flashinfer_trtllm", BF16_LAYER, DeviceProfiles.H100);
        assertEquals(SelectionMode.AUTO, auto.mode());
    }

    @Test
    void aCheckThatThrowsIsReportedWithTheExclusionHint() {
        var faulty = new FakeBackend("faulty", (l, d) -> { throw new IllegalStateException("boom"); });
        var resolver = new MoeBackendResolver(MoeBackendRegistry.of(List.of(faulty, TRITON), List.of(), Set.of()));
        var e = assertThrows(MoeBackendSelectionException.class, () -> resolver.resolveTarget("triton", BF16_LAYER, DeviceProfiles.H100));
        assertTrue(e.getMessage().startsWith("MoE backend 'faulty' (" + FakeBackend.class.getName() + " from "), e.getMessage());
        assertTrue(e.getMessage().endsWith("java.lang.IllegalStateException: boom. Fix the backend or exclude it with "
                + "-Dmoespec.moe.exclude=faulty."), e.getMessage());
    }

    @Test
    void bindingsNeedOneChoicePerPhaseInOrder() {
        MoeBinding b = resolver().resolveTarget("triton", BF16_LAYER, DeviceProfiles.H100);
        var swapped = List.of(b.choices().get(1), b.choices().get(0));
        var e = assertThrows(IllegalArgumentException.class,
                () -> new MoeBinding(ModelRole.TARGET, "triton", SelectionMode.PINNED, swapped, b.report()));
        assertTrue(e.getMessage().startsWith("choices must be ordered by phase (decode, prefill)"), e.getMessage());
        assertEquals(Eligibility.eligible(), b.choiceFor(1).provider().check(BF16_LAYER, DeviceProfiles.H100));
    }
}
