package dev.moespec.backend.auto;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.device.DeviceProfiles;
import dev.moespec.moe.MoeAutoPolicy;
import dev.moespec.moe.MoeAutoPolicy.Preference;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;
import dev.moespec.moe.Routing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One test per row of the built-in table, then the appending rules and the decode/prefill boundary. */
class HeuristicAutoPolicyTest {

    private static final Set<String> BUILT_INS = Set.of("triton", "flashinfer_trtllm", "cpu_reference");
    private static final DeviceInfo T4 = DeviceInfo.cuda(0, "Tesla T4", 7, 5, 15_843_721_216L, 40);
    private final HeuristicAutoPolicy auto = new HeuristicAutoPolicy();

    private static MoeLayerSpec layer(QuantScheme quant) {
        return new MoeLayerSpec(16, 4, 256, 128, MoeLayerSpec.Activation.SILU, new Routing.SoftmaxTopK(true), quant, 256);
    }

    private List<Preference> rank(QuantScheme quant, DeviceInfo device, Phase phase) {
        return auto.rank(layer(quant), device, phase, BUILT_INS);
    }

    private static List<String> names(List<Preference> ranking) {
        return ranking.stream().map(Preference::backend).toList();
    }

    /** The first preference's rationale names the quant, the device and the phase, then says why. */
    private static void assertRationale(Preference first, String quantDevicePhase, String why) {
        assertTrue(first.rationale().startsWith(quantDevicePhase + ": "), first.rationale());
        assertTrue(first.rationale().contains(why), first.rationale());
    }

    @Test
    void registeredThroughServiceLoaderAsHeuristicTable() {
        assertTrue(ServiceLoader.load(MoeAutoPolicy.class).stream()
                .anyMatch(p -> p.type() == HeuristicAutoPolicy.class && p.get().name().equals("heuristic-table")));
    }

    // --- one test per row ---

    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void rowNoGpu_cpuReference(QuantScheme quant) {
        for (Phase phase : Phase.values()) {
            List<Preference> r = rank(quant, DeviceProfiles.NO_GPU, phase);
            // the GPU built-ins trail, so the report can say why each was passed over (NO_DEVICE)
            assertEquals(List.of("flashinfer_trtllm", "triton", "cpu_reference"), names(r));
            assertEquals(quant.cliName() + " on cpu (no GPU), " + phase.label() + ": no GPU: the fp32 CPU reference is the last resort",
                    r.getLast().rationale());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Phase.class)
    void rowBelowSm80_nothingBuiltInSoRegisteredThenCpuReference(Phase phase) {
        List<Preference> r = auto.rank(layer(QuantScheme.BF16), T4, phase, Set.of("triton", "cpu_reference", "acme_volta"));
        assertEquals(List.of("acme_volta", "triton", "cpu_reference"), names(r));
        assertRationale(r.getFirst(), "bf16 on sm_75, " + phase.label(), "no built-in GPU backend serves sm < 80");
    }

    @ParameterizedTest
    @EnumSource(value = QuantScheme.class, names = {"BF16", "FP16"})
    void rowUnquantizedSm80Up_triton(QuantScheme quant) {
        for (DeviceInfo device : List.of(DeviceProfiles.A100, DeviceProfiles.L40S, DeviceProfiles.H100)) {
            for (Phase phase : Phase.values()) {
                List<Preference> r = rank(quant, device, phase);
                assertEquals(List.of("triton", "flashinfer_trtllm", "cpu_reference"), names(r));
                assertRationale(r.getFirst(), quant.cliName() + " on sm_" + device.sm() + ", " + phase.label(), "vllm#44220");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Phase.class)
    void rowFp8BlockSm89Up_flashinferThenTriton(Phase phase) {
        for (DeviceInfo device : List.of(DeviceProfiles.L40S, DeviceProfiles.H100)) {
            List<Preference> r = rank(QuantScheme.FP8_BLOCK_128, device, phase);
            assertEquals(List.of("flashinfer_trtllm", "triton", "cpu_reference"), names(r));
            assertRationale(r.getFirst(), "fp8_block_128 on sm_" + device.sm() + ", " + phase.label(), "FP8 block-scale tensor-core GEMMs");
            // per phase from the H100 measurement: the rationale carries the measured ratio of that phase
            assertTrue(r.getFirst().rationale().contains(phase == Phase.DECODE ? "at M <= 64: 1.45x" : "at M >= 256: 1.47x"),
                    r.getFirst().rationale());
            assertTrue(r.get(1).rationale().contains("fallback"), r.get(1).rationale());
        }
    }

    @Test
    void rowFp8PerTensorSm89UpDecode_flashinferThenTriton() {
        List<Preference> r = rank(QuantScheme.FP8_PER_TENSOR, DeviceProfiles.H100, Phase.DECODE);
        assertEquals(List.of("flashinfer_trtllm", "triton", "cpu_reference"), names(r));
        assertRationale(r.getFirst(), "fp8_per_tensor on sm_90, decode", "decode is bound by reading expert weights");
        assertTrue(r.getFirst().rationale().contains("at M <= 64: 1.00x"), r.getFirst().rationale());
    }

    @Test
    void rowFp8PerTensorSm89UpPrefill_flashinferThenTriton() {
        // round 2 measured flashinfer_trtllm's wgmma prefill at 1.14-2.30x triton's FP8 time: no longer triton first
        List<Preference> r = rank(QuantScheme.FP8_PER_TENSOR, DeviceProfiles.L40S, Phase.PREFILL);
        assertEquals(List.of("flashinfer_trtllm", "triton", "cpu_reference"), names(r));
        assertRationale(r.getFirst(), "fp8_per_tensor on sm_89, prefill", "prefill is bound by tensor-core math");
        assertTrue(r.getFirst().rationale().contains("at M >= 256: 1.06x"), r.getFirst().rationale());
        assertTrue(r.get(1).rationale().contains("fallback"), r.get(1).rationale());
    }

    @ParameterizedTest
    @EnumSource(value = Phase.class)
    void rowFp8PerChannelSm89Up_triton(Phase phase) {
        List<Preference> r = rank(QuantScheme.FP8_PER_CHANNEL, DeviceProfiles.H100, phase);
        assertEquals(List.of("triton", "flashinfer_trtllm", "cpu_reference"), names(r));
        assertRationale(r.getFirst(), "fp8_per_channel on sm_90, " + phase.label(), "only triton serves per-channel FP8 scales");
    }

    @ParameterizedTest
    @EnumSource(value = QuantScheme.class, names = {"FP8_PER_TENSOR", "FP8_PER_CHANNEL", "FP8_BLOCK_128"})
    void rowAnyFp8Sm80To88_tritonOnFp16TensorCores(QuantScheme quant) {
        for (Phase phase : Phase.values()) {
            List<Preference> r = rank(quant, DeviceProfiles.A100, phase);
            assertEquals(List.of("triton", "flashinfer_trtllm", "cpu_reference"), names(r));
            assertRationale(r.getFirst(), quant.cliName() + " on sm_80, " + phase.label(),
                    "no FP8 tensor cores: triton holds the e4m3 values exactly in fp16 and runs the same w8a8 math on the fp16 tensor cores");
        }
    }

    // --- appending ---

    @Test
    void thirdPartyBackendsFollowTheTableSortedAndCpuReferenceIsLast() {
        List<Preference> r = auto.rank(layer(QuantScheme.FP8_BLOCK_128), DeviceProfiles.H100, Phase.DECODE,
                Set.of("zeta_moe", "cpu_reference", "acme_fp8", "triton", "flashinfer_trtllm"));
        assertEquals(List.of("flashinfer_trtllm", "triton", "acme_fp8", "zeta_moe", "cpu_reference"), names(r));
        assertTrue(r.get(2).rationale().contains("not in the heuristic table"), r.get(2).rationale());
        assertEquals("fp8_block_128 on sm_90, decode: last resort: the fp32 CPU reference runs any layer, slowly", r.getLast().rationale());
    }

    @Test
    void onCpuAThirdPartyBackendComesBeforeTheCpuReference() {
        List<Preference> r = auto.rank(layer(QuantScheme.BF16), DeviceProfiles.NO_GPU, Phase.PREFILL, Set.of("cpu_reference", "acme_cpu"));
        assertEquals(List.of("acme_cpu", "cpu_reference"), names(r));
        assertEquals("bf16 on cpu (no GPU), prefill: no GPU; registered, so tried before the CPU reference in alphabetical order",
                r.getFirst().rationale());
    }

    @Test
    void tableBackendsAndCpuReferenceAreRankedEvenWhenNotRegistered() {
        // the resolver skips unregistered names and reports them; the policy does not filter
        assertEquals(List.of("flashinfer_trtllm", "triton", "cpu_reference"),
                names(auto.rank(layer(QuantScheme.FP8_BLOCK_128), DeviceProfiles.H100, Phase.PREFILL, Set.of())));
    }

    // --- decode / prefill boundary ---

    @Test
    void sixtyFourTokensIsDecodeAndSixtyFiveIsPrefill() {
        // both FP8 phases rank flashinfer_trtllm first now; the row taken shows in the phase's measured rationale
        MoeLayerSpec fp8 = layer(QuantScheme.FP8_PER_TENSOR);
        List<Preference> decode = auto.rank(fp8, DeviceProfiles.H100, Phase.of(64), BUILT_INS);
        List<Preference> prefill = auto.rank(fp8, DeviceProfiles.H100, Phase.of(65), BUILT_INS);
        assertEquals(List.of("flashinfer_trtllm", "triton", "cpu_reference"), names(decode));
        assertEquals(List.of("flashinfer_trtllm", "triton", "cpu_reference"), names(prefill));
        assertTrue(decode.getFirst().rationale().contains("fp8_per_tensor on sm_90, decode"), decode.getFirst().rationale());
        assertTrue(decode.getFirst().rationale().contains("M <= 64"), decode.getFirst().rationale());
        assertTrue(prefill.getFirst().rationale().contains("fp8_per_tensor on sm_90, prefill"), prefill.getFirst().rationale());
        assertTrue(prefill.getFirst().rationale().contains("M >= 256"), prefill.getFirst().rationale());
    }

    // --- the table is data, validated ---

    @Test
    void builtInTableCoversEveryCombinationExactlyOnce() {
        for (QuantScheme q : QuantScheme.values())
            for (DeviceClass d : DeviceClass.values())
                for (Phase p : Phase.values())
                    assertEquals(1, HeuristicTable.BUILT_IN.rows().stream().filter(r -> r.matches(q, d, p)).count(), q + " " + d + " " + p);
        assertEquals(9, HeuristicTable.BUILT_IN.rows().size()); // fp8_block_128 on sm >= 89 is split by phase
    }

    @Test
    void aTableWithAGapIsRefusedNamingTheMissingCombination() {
        List<HeuristicRow> rows = HeuristicTable.BUILT_IN.rows().stream()
                .filter(r -> !r.quants().equals(Set.of(QuantScheme.FP8_PER_CHANNEL))).toList();
        var e = assertThrows(IllegalArgumentException.class, () -> new HeuristicTable(rows));
        assertEquals("the MoE auto heuristic table must cover every quantization x device class x phase exactly once; fix these: "
                + "fp8_per_channel on sm >= 89, decode: no row, fp8_per_channel on sm >= 89, prefill: no row", e.getMessage());
    }

    @Test
    void aTableWithAnOverlapIsRefusedNamingBothRows() {
        List<HeuristicRow> rows = new ArrayList<>(HeuristicTable.BUILT_IN.rows());
        rows.add(new HeuristicRow(Set.of(QuantScheme.BF16), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.DECODE),
                List.of(new HeuristicRow.Choice("acme", "measured faster"))));
        var e = assertThrows(IllegalArgumentException.class, () -> new HeuristicTable(rows));
        assertTrue(e.getMessage().endsWith("fix these: bf16 on sm >= 89, decode: 2 rows ([bf16, fp16] | [sm 80-88, sm >= 89] | [decode, prefill]; "
                + "[bf16] | [sm >= 89] | [decode])"), e.getMessage());
    }

    @Test
    void aRetunedTableChangesTheRanking() {
        List<HeuristicRow> rows = new ArrayList<>(HeuristicTable.BUILT_IN.rows().stream()
                .filter(r -> !r.quants().equals(Set.of(QuantScheme.FP8_PER_CHANNEL))).toList());
        rows.add(HeuristicRow.of(Set.of(QuantScheme.FP8_PER_CHANNEL), Set.of(DeviceClass.SM_89_UP),
                new HeuristicRow.Choice("acme", "measured 1.4x triton at decode on H100")));
        var policy = new HeuristicAutoPolicy(new HeuristicTable(rows));
        assertEquals(List.of("acme", "flashinfer_trtllm", "triton", "cpu_reference"),
                names(policy.rank(layer(QuantScheme.FP8_PER_CHANNEL), DeviceProfiles.H100, Phase.DECODE, BUILT_INS)));
    }

    @Test
    void aRowNamingABackendTwiceIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> HeuristicRow.of(
                Set.of(QuantScheme.BF16), Set.of(DeviceClass.SM_89_UP),
                new HeuristicRow.Choice("triton", "a"), new HeuristicRow.Choice("triton", "b")));
        assertTrue(e.getMessage().startsWith("a heuristic row names a backend twice"), e.getMessage());
    }
}
