package dev.moespec.engine.bench;

import dev.moespec.api.config.QuantScheme;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The weight formats the benchmark runs, named as in the anchors' {@code dtype} column.
 * <ul>
 *   <li>{@code bf16}: bf16 weights and activations.</li>
 *   <li>{@code fp8}: e4m3 weights with one float32 scale per expert matrix, activations quantised per tensor
 *       dynamically (vLLM {@code use_fp8_w8a8}, the anchors' fp8 rows) — {@link QuantScheme#FP8_PER_TENSOR}.</li>
 *   <li>{@code fp8block}: e4m3 weights with a float32 scale per 128×128 block, activations per token per 128
 *       columns — {@link QuantScheme#FP8_BLOCK_128}.</li>
 * </ul>
 */
public enum BenchDtype {
    BF16("bf16", QuantScheme.BF16),
    FP8("fp8", QuantScheme.FP8_PER_TENSOR),
    FP8BLOCK("fp8block", QuantScheme.FP8_BLOCK_128);

    private static final int BLOCK = 128;

    private final String label;
    private final QuantScheme quant;

    BenchDtype(String label, QuantScheme quant) {
        this.label = label;
        this.quant = quant;
    }

    /** The anchors' name: {@code bf16}, {@code fp8}, {@code fp8block}. */
    public String label() {
        return label;
    }

    public QuantScheme quant() {
        return quant;
    }

    /**
     * Bytes of one expert's weights as the anchors count them: 3·H·I elements at 2 bytes (bf16) or 1 (fp8), plus
     * for fp8block 4 bytes per 128×128 block scale of both matrices (per-tensor fp8 scales are negligible and,
     * as in the anchors, not counted).
     */
    public long expertBytes(BenchShape s) {
        long elements = 3L * s.hiddenSize() * s.intermediateSize();
        return switch (this) {
            case BF16 -> 2 * elements;
            case FP8 -> elements;
            case FP8BLOCK -> elements + 4L * (ceil128(2L * s.intermediateSize()) * ceil128(s.hiddenSize())
                    + ceil128(s.hiddenSize()) * ceil128(s.intermediateSize()));
        };
    }

    private static long ceil128(long n) {
        return (n + BLOCK - 1) / BLOCK;
    }

    /**
     * The dtype called {@code name} (case-insensitive; {@code fp8_block_128} is accepted for {@code fp8block}).
     *
     * @throws IllegalArgumentException naming the valid dtypes
     */
    public static BenchDtype byName(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT).replace("-", "_");
        for (BenchDtype d : values()) {
            if (d.label.equals(n) || d.quant.cliName().equals(n)) return d;
        }
        throw new IllegalArgumentException("unknown dtype '" + name.strip() + "' for --dtype; valid: "
                + Arrays.stream(values()).map(BenchDtype::label).collect(Collectors.joining(", ")));
    }
}
