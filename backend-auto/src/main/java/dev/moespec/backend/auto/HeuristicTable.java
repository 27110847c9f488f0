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
            // FP8 rows on sm >= 89: per phase from `moespec bench moe` of both backends in one device call on an H100
            // (2026-11-27, after triton's skinny/wgmma and flashinfer_trtllm's warp-specialised/finalize rounds); ratios
            // are triton us / flashinfer_trtllm us over the anchor shapes, median (min-max). Triton's BF16 (the FP8
            // weights dequantised) wins single rows (small M=1 0.85x, small M=1024 0.96x) but neither phase.
            new HeuristicRow(Set.of(QuantScheme.FP8_BLOCK_128), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.DECODE), List.of(
                    new Choice(FLASHINFER_TRTLLM, "FP8 block-scale tensor-core GEMMs with 1x128 dynamic activation groups stream "
                            + "half the weight bytes of BF16; measured on H100 at M <= 64: 1.45x (1.29-2.85x) triton's FP8 block time, "
                            + "1.56x (0.85-1.70x) its BF16"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with 128x128 block scales"))),
            new HeuristicRow(Set.of(QuantScheme.FP8_BLOCK_128), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.PREFILL), List.of(
                    new Choice(FLASHINFER_TRTLLM, "FP8 block-scale tensor-core GEMMs (wgmma, 128-row tiles on sm_90) with the block "
                            + "scales promoted per 128-K step; measured on H100 at M >= 256: 1.47x (1.14-2.45x) triton's FP8 block time, "
                            + "1.39x (0.96-1.74x) its BF16"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with 128x128 block scales"))),
            new HeuristicRow(Set.of(QuantScheme.FP8_PER_TENSOR), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.DECODE), List.of(
                    new Choice(FLASHINFER_TRTLLM, "decode is bound by reading expert weights, and flashinfer_trtllm's FP8 "
                            + "tensor-core kernels are tiled for few tokens; measured on H100 at M <= 64: 1.00x (0.93-1.34x) "
                            + "triton's FP8 time (a tie in the median; flashinfer_trtllm wins the largest rows) and 1.48x its BF16"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with per-tensor scales"))),
            new HeuristicRow(Set.of(QuantScheme.FP8_PER_TENSOR), Set.of(DeviceClass.SM_89_UP), Set.of(Phase.PREFILL), List.of(
                    new Choice(FLASHINFER_TRTLLM, "prefill is bound by tensor-core math over many tokens: flashinfer_trtllm's "
                            + "wgmma 128-row tiles (sm_90) measured on H100 at M >= 256: 1.06x (0.97-1.22x) triton's FP8 "
                            + "time (both have wgmma prefill kernels now) and 1.40x its BF16"),
                    new Choice(TRITON, "fallback: triton's FP8 w8a8 grouped GEMM with per-tensor scales"))),
            HeuristicRow.of(Set.of(QuantScheme.FP8_PER_CHANNEL), Set.of(DeviceClass.SM_89_UP),
                    new Choice(TRITON, "only triton serves per-channel FP8 scales (flashinfer_trtllm takes block-128 and per-tensor)")),
            HeuristicRow.of(FP8, Set.of(DeviceClass.SM_80_TO_88),
                    new Choice(TRITON, "no FP8 tensor cores: triton holds the e4m3 values exactly in fp16 and runs the same w8a8 math on the fp16 tensor cores"))));

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
