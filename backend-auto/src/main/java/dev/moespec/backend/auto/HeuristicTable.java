package dev.moespec.backend.auto;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.backend.auto.HeuristicRow.Choice;
import dev.moespec.moe.Phase;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The rows of the {@code auto} heuristic, as data so that measurements can re-tune it without touching the
 * policy. A table must cover every quantization x device class x phase exactly once; the constructor refuses
 * a table with a gap or an overlap and names the combination.
 */
public record HeuristicTable(List<HeuristicRow> rows) {

    static final String TRITON = "triton";
    static final String FLASHINFER_TRTLLM = "flashinfer_trtllm";
    static final String CPU_REFERENCE = "cpu_reference";

    private static final Set<QuantScheme> UNQUANTIZED = EnumSet.of(QuantScheme.BF16, QuantScheme.FP16);
    private static final Set<QuantScheme> FP8 = EnumSet.of(QuantScheme.FP8_PER_TENSOR, QuantScheme.FP8_PER_CHANNEL, QuantScheme.FP8_BLOCK_128);

    /**
     * The built-in table. The FP8 rows on sm >= 89 are set per phase from H100 measurements (their rationales carry
     * the ratios); the others are written from the design of each kernel and from vLLM's oracle, to be re-tuned from
     * the benchmarks of the kernel issues.
     */
    public static final HeuristicTable BUILT_IN = new HeuristicTable(List.of(
            HeuristicRow.of(EnumSet.allOf(QuantScheme.class), Set.of(DeviceClass.NO_GPU),
                    new Choice(CPU_REFERENCE, "no GPU: the fp32 CPU reference is the last resort")),
            HeuristicRow.of(EnumSet.allOf(QuantScheme.class), Set.of(DeviceClass.SM_BELOW_80)),
            HeuristicRow.of(UNQUANTIZED, EnumSet.of(DeviceClass.SM_80_TO_88, DeviceClass.SM_89_UP),
                    new Choice(TRITON, "unquantized weights run on BF16 tensor cores in triton's block-aligned grouped GEMMs "
                            + "(vLLM also makes Triton the unquantized default on Hopper, vllm#44220)")),
            // FP8 rows on sm >= 89: per phase from `moespec bench moe` on an H100 (2026-11-27; flashinfer_trtllm with
            // wgmma prefill) against triton's H100 table of the same day (backend-triton/README.md); ratios are
            // triton us / flashinfer_trtllm us over the anchor shapes, median (min-max)
            new HeuristicRow(Set.of(QuantScheme.FP8_BLOCK_128), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.DECODE), List.of(
                    new Choice(FLASHINFER_TRTLLM, "FP8 block-scale tensor-core GEMMs with 1x128 dynamic activation groups stream "
                            + "half the weight bytes of BF16; measured on H100 at M <= 64: 1.37x (0.89-4.05x) triton's FP8 time, "
                            + "1.74x its BF16"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with 128x128 block scales"))),
            new HeuristicRow(Set.of(QuantScheme.FP8_BLOCK_128), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.PREFILL), List.of(
                    new Choice(FLASHINFER_TRTLLM, "FP8 block-scale tensor-core GEMMs (wgmma, 128-row tiles on sm_90) with the block "
                            + "scales promoted per 128-K step; measured on H100 at M >= 256: 1.56x (1.06-2.17x) triton's FP8 time, "
                            + "1.78x its BF16"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with 128x128 block scales"))),
            new HeuristicRow(Set.of(QuantScheme.FP8_PER_TENSOR), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.DECODE), List.of(
                    new Choice(FLASHINFER_TRTLLM, "decode is bound by reading expert weights, and flashinfer_trtllm's FP8 "
                            + "tensor-core kernels are tiled for few tokens; measured on H100 at M <= 64: 1.33x (0.87-3.88x) "
                            + "triton's FP8 time"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with per-tensor scales"))),
            new HeuristicRow(Set.of(QuantScheme.FP8_PER_TENSOR), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.PREFILL), List.of(
                    new Choice(FLASHINFER_TRTLLM, "prefill is bound by tensor-core math over many tokens: flashinfer_trtllm's "
                            + "wgmma 128-row tiles (sm_90) measured on H100 at M >= 256: 1.59x (1.14-2.30x) triton's FP8 "
                            + "time (triton's prefill GEMM is mma.sync, 64x128 tiles)"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with per-tensor scales"))),
            HeuristicRow.of(Set.of(QuantScheme.FP8_PER_CHANNEL), Set.of(DeviceClass.SM_89_UP),
                    new Choice(TRITON, "only triton serves per-channel FP8 scales (flashinfer_trtllm takes block-128 and per-tensor)")),
            HeuristicRow.of(FP8, Set.of(DeviceClass.SM_80_TO_88),
                    new Choice(TRITON, "no FP8 tensor cores: triton dequantises the FP8 weights to BF16 at load"))));

    public HeuristicTable {
        rows = List.copyOf(rows);
        List<String> problems = new ArrayList<>();
        for (QuantScheme quant : QuantScheme.values()) {
            for (DeviceClass device : DeviceClass.values()) {
                for (Phase phase : Phase.values()) {
                    List<HeuristicRow> hits = rows.stream().filter(r -> r.matches(quant, device, phase)).toList();
                    if (hits.size() != 1) {
                        problems.add("%s on %s, %s: %s".formatted(quant.cliName(), device.label(), phase.label(),
                                hits.isEmpty() ? "no row" : hits.size() + " rows (" + String.join("; ", hits.stream().map(HeuristicRow::describe).toList()) + ")"));
                    }
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("the MoE auto heuristic table must cover every quantization x device class x phase "
                    + "exactly once; fix these: " + String.join(", ", problems));
        }
    }

    /** The one row for this combination (the constructor guarantees there is exactly one). */
    public HeuristicRow lookup(QuantScheme quant, DeviceClass device, Phase phase) {
        return rows.stream().filter(r -> r.matches(quant, device, phase)).findFirst().orElseThrow();
    }
}
