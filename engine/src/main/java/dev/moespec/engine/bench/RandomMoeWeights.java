package dev.moespec.engine.bench;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.MoeWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Seeded random expert weights in Hugging Face layout ({@code w13[E, 2I, H]}, {@code w2[E, H, I]}), drawn from
 * N(0, 1/√fan_in) like an initialised layer, so activations keep unit scale through both GEMMs.
 *
 * <p>Generated in chunks of 128 rows, each with its own generator derived from (seed, matrix, expert, chunk): the
 * chunks fill in parallel and every chunk can be drawn again identically, which the FP8 per-tensor scale needs
 * (first pass: the expert's absolute maximum; second pass: quantise). FP8 scales follow the usual recipe:
 * scale = amax / 448 (per expert matrix, or per 128×128 block), weight = e4m3(w / scale), and the scale tensors
 * hold what multiplies back (HF {@code weight_scale_inv}).
 */
final class RandomMoeWeights {
    private static final int BLOCK = 128;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LEF32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RandomMoeWeights() {}

    /** The weights of {@code shape} in {@code dtype}'s format, allocated in {@code arena} (which must be shared: chunks fill in parallel). */
    static MoeWeights generate(Arena arena, BenchShape shape, BenchDtype dtype, long seed) {
        int e = shape.numExperts(), h = shape.hiddenSize(), i = shape.intermediateSize();
        Matrix w13 = new Matrix(1, e, 2 * i, h);
        Matrix w2 = new Matrix(2, e, h, i);
        if (dtype == BenchDtype.BF16) {
            return MoeWeights.unquantized(w13.bf16(arena, seed), w2.bf16(arena, seed));
        }
        Tensor q13 = HostTensors.allocate(arena, DType.FP8_E4M3, e, 2L * i, h);
        Tensor q2 = HostTensors.allocate(arena, DType.FP8_E4M3, e, h, i);
        Tensor s13 = w13.fp8(arena, seed, dtype, q13);
        Tensor s2 = w2.fp8(arena, seed, dtype, q2);
        return MoeWeights.fp8(q13, q2, s13, s2);
    }

    /** One stacked weight {@code [E, rows, cols]}; {@code id} keeps the generators of w13 and w2 apart. */
    private record Matrix(int id, int experts, int rows, int cols) {
        int chunks() {
            return (rows + BLOCK - 1) / BLOCK;
        }

        int colBlocks() {
            return (cols + BLOCK - 1) / BLOCK;
        }

        /** Rows [chunk·128, min(rows, chunk·128+128)) of expert {@code x}, row-major; the same values on every call. */
        float[] draw(long seed, int x, int chunk) {
            int r0 = chunk * BLOCK, nRows = Math.min(BLOCK, rows - r0);
            SplittableRandom random = new SplittableRandom(mix(seed, id, x, chunk));
            double std = 1.0 / Math.sqrt(cols); // fan_in of y = W·x is the column count
            float[] v = new float[nRows * cols];
            for (int k = 0; k < v.length; k++) v[k] = (float) (random.nextGaussian() * std);
            return v;
        }

        long offset(int x, int chunk) {
            return ((long) x * rows + (long) chunk * BLOCK) * cols;
        }

        Tensor bf16(Arena arena, long seed) {
            Tensor t = HostTensors.allocate(arena, DType.BF16, experts, rows, cols);
            MemorySegment data = t.data();
            forEachChunk((x, c) -> {
                float[] v = draw(seed, x, c);
                long base = offset(x, c) * 2;
                for (int k = 0; k < v.length; k++) data.set(LE16, base + 2L * k, HostTensors.floatToBf16(v[k]));
            });
            return t;
        }

        /** Quantises into {@code q} and returns the scale tensor of {@code dtype}'s shape. */
        Tensor fp8(Arena arena, long seed, BenchDtype dtype, Tensor q) {
            MemorySegment data = q.data();
            if (dtype == BenchDtype.FP8) {
                float[] amax = new float[experts * chunks()];
                forEachChunk((x, c) -> amax[x * chunks() + c] = absMax(draw(seed, x, c), 0, Integer.MAX_VALUE, cols));
                float[] scale = new float[experts];
                for (int x = 0; x < experts; x++) {
                    float m = 0f;
                    for (int c = 0; c < chunks(); c++) m = Math.max(m, amax[x * chunks() + c]);
                    scale[x] = m > 0 ? m / HostTensors.E4M3_MAX : 1f;
                }
                forEachChunk((x, c) -> {
                    float[] v = draw(seed, x, c);
                    long base = offset(x, c);
                    float inv = 1f / scale[x];
                    for (int k = 0; k < v.length; k++) data.set(ValueLayout.JAVA_BYTE, base + k, HostTensors.floatToE4m3(v[k] * inv));
                });
                return floats(arena, scale, experts);
            }
            // FP8 block-128: a chunk of 128 rows is exactly one row of blocks.
            float[] scale = new float[experts * chunks() * colBlocks()];
            forEachChunk((x, c) -> {
                float[] v = draw(seed, x, c);
                long base = offset(x, c);
                for (int cb = 0; cb < colBlocks(); cb++) {
                    float m = absMax(v, cb * BLOCK, (cb + 1) * BLOCK, cols);
                    float s = m > 0 ? m / HostTensors.E4M3_MAX : 1f;
                    scale[(x * chunks() + c) * colBlocks() + cb] = s;
                    float inv = 1f / s;
                    int nRows = v.length / cols;
                    for (int r = 0; r < nRows; r++) {
                        for (int col = cb * BLOCK; col < Math.min(cols, (cb + 1) * BLOCK); col++) {
                            int k = r * cols + col;
                            data.set(ValueLayout.JAVA_BYTE, base + k, HostTensors.floatToE4m3(v[k] * inv));
                        }
                    }
                }
            });
            return floats(arena, scale, experts, chunks(), colBlocks());
        }

        private void forEachChunk(ChunkTask task) {
            IntStream.range(0, experts * chunks()).parallel().forEach(t -> task.run(t / chunks(), t % chunks()));
        }
    }

    @FunctionalInterface
    private interface ChunkTask {
        void run(int expert, int chunk);
    }

    /** max |v| over the columns [c0, c1) of every row of a row-major block with {@code cols} columns. */
    private static float absMax(float[] v, int c0, int c1, int cols) {
        float m = 0f;
        int end = Math.min(c1, cols);
        for (int r = 0; r < v.length / cols; r++) {
            for (int c = c0; c < end; c++) m = Math.max(m, Math.abs(v[r * cols + c]));
        }
        return m;
    }

    private static Tensor floats(Arena arena, float[] values, long... shape) {
        Tensor t = HostTensors.allocate(arena, DType.F32, shape);
        MemorySegment.copy(values, 0, t.data(), LEF32, 0, values.length);
        return t;
    }

    /** Unit-scale activations (N(0,1)) or router logits, {@code [rows, cols]}, seeded. */
    static float[] gaussian(long seed, int rows, int cols) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] v = new float[rows * cols];
        for (int k = 0; k < v.length; k++) v[k] = (float) random.nextGaussian();
        return v;
    }

    /** A host tensor of {@code values} converted to {@code dtype}. */
    static Tensor hostTensor(Arena arena, DType dtype, float[] values, long... shape) {
        Tensor t = HostTensors.allocate(arena, dtype, shape);
        MemorySegment data = t.data();
        switch (dtype) {
            case BF16 -> {
                for (int k = 0; k < values.length; k++) data.set(LE16, 2L * k, HostTensors.floatToBf16(values[k]));
            }
            case F32 -> {
                for (int k = 0; k < values.length; k++) data.set(LEF32, 4L * k, values[k]);
            }
            default -> throw new IllegalArgumentException("hostTensor supports BF16 and F32, got " + dtype);
        }
        return t;
    }

    private static long mix(long seed, int matrix, int expert, int chunk) {
        long z = seed * 0x9E3779B97F4A7C15L + matrix;
        z = z * 0xBF58476D1CE4E5B9L + expert;
        z = z * 0x94D049BB133111EBL + chunk;
        return z ^ (z >>> 31);
    }
}
