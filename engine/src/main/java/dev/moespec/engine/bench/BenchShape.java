package dev.moespec.engine.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * One MoE layer shape of the benchmark: the four of the peer anchors ({@code anchors/README.md}) and {@code tiny},
 * a shape of our own for quick runs and CI, which has no peer row.
 *
 * @param name             the anchors' name ({@code qwen3-30b-a3b})
 * @param numExperts       E
 * @param topK             experts per token
 * @param hiddenSize       H
 * @param intermediateSize I
 */
public record BenchShape(String name, int numExperts, int topK, int hiddenSize, int intermediateSize) {

    public static final BenchShape MIXTRAL = new BenchShape("mixtral", 8, 2, 4096, 14336);
    public static final BenchShape QWEN3_30B_A3B = new BenchShape("qwen3-30b-a3b", 128, 8, 2048, 768);
    public static final BenchShape DEEPSEEK_V2_LITE = new BenchShape("deepseek-v2-lite", 64, 6, 2048, 1408);
    public static final BenchShape SMALL = new BenchShape("small", 8, 2, 1024, 2816);
    /** Not in the anchors: seconds on the CPU reference, for tests and smoke runs. */
    public static final BenchShape TINY = new BenchShape("tiny", 8, 2, 256, 512);

    /** The anchors' shapes, in the anchors' order: the default of {@code --shapes}. */
    public static final List<BenchShape> ANCHORS = List.of(MIXTRAL, QWEN3_30B_A3B, DEEPSEEK_V2_LITE, SMALL);

    /** Every shape {@code --shapes} accepts. */
    public static final List<BenchShape> ALL = List.of(MIXTRAL, QWEN3_30B_A3B, DEEPSEEK_V2_LITE, SMALL, TINY);

    /** The token counts M of the anchors: the default of {@code --tokens}. */
    public static final List<Integer> ANCHOR_TOKENS = List.of(1, 4, 16, 64, 256, 1024, 4096);

    /**
     * The shape called {@code name} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the valid shapes
     */
    public static BenchShape byName(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        return find(n).orElseThrow(() -> new IllegalArgumentException("unknown shape '" + name.strip() + "' for --shapes; valid: "
                + ALL.stream().map(BenchShape::name).collect(Collectors.joining(", "))));
    }

    private static Optional<BenchShape> find(String name) {
        return ALL.stream().filter(s -> s.name.equals(name)).findFirst();
    }

    /** FLOPs of one forward as the anchors count them: 2·M·k·(H·2I + I·H). */
    public double flops(int tokens) {
        return 2.0 * tokens * topK * ((double) hiddenSize * 2 * intermediateSize + (double) intermediateSize * hiddenSize);
    }

    /** {@code E=8 top-2 H=4096 I=14336}. */
    public String describe() {
        return "E=%d top-%d H=%d I=%d".formatted(numExperts, topK, hiddenSize, intermediateSize);
    }

    @Override
    public String toString() {
        return name + " (" + describe() + ")";
    }

    static String names(List<BenchShape> shapes) {
        return Arrays.toString(shapes.stream().map(BenchShape::name).toArray());
    }
}
