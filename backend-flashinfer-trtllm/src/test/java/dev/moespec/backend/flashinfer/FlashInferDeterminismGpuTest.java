package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaAvailability;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.Routing;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The deterministic reduction (GEMM 2's partial rows summed by {@code fi_finalize_out} in slot order, then split
 * order, no atomics): the same call repeated gives the same bits, and with M fixed at the engine's batch-invariant
 * 64 rows a token's output bits do not depend on which other tokens share its batch or where it sits in it.
 */
@Tag("gpu")
class FlashInferDeterminismGpuTest {

    /** The engine's batch-invariant mode calls the MoE with exactly this many rows. */
    private static final int ROWS = 64;
    private static final int REPEATS = 20;

    @BeforeAll
    static void needsCuda() {
        Assumptions.assumeTrue(Cuda.available() instanceof CudaAvailability.Available, () -> "no CUDA: " + Cuda.available());
    }

    /**
     * Layers whose 64-row plan takes each GEMM 2 path: 16-row tiles with split-K 4 (E = 8: 8 blocks x 3 column tiles
     * are too few CTAs), 16-row tiles over 64 experts with sigmoid grouped routing, and 128-row warp-specialised
     * tiles on sm_90 (E = 2, top-2: 64 rows per expert).
     */
    static Stream<Arguments> layers() {
        float[] bias = new float[64];
        SplittableRandom r = new SplittableRandom(11);
        for (int e = 0; e < bias.length; e++) bias[e] = (float) (Fp8TestWeights.gauss(r) * 0.1);
        Routing softmax = new Routing.SoftmaxTopK(true);
        return Stream.of(
                new MoeLayerSpec(8, 2, 384, 1024, MoeLayerSpec.Activation.SILU, softmax, QuantScheme.FP8_BLOCK_128, ROWS),
                new MoeLayerSpec(64, 6, 512, 384, MoeLayerSpec.Activation.SILU, new Routing.SigmoidGroupedTopK(8, 3, true, 2.5f, bias),
                        QuantScheme.FP8_BLOCK_128, ROWS),
                new MoeLayerSpec(2, 2, 256, 256, MoeLayerSpec.Activation.SILU, softmax, QuantScheme.FP8_BLOCK_128, ROWS)
        ).map(Arguments::of);
    }

    /** Per-tensor layers are run-to-run deterministic too (their scale spans the batch, so not batch-invariant). */
    static Stream<Arguments> allQuantisations() {
        return Stream.concat(layers(), Stream.of(Arguments.of(new MoeLayerSpec(8, 2, 384, 1024, MoeLayerSpec.Activation.SILU,
                new Routing.SoftmaxTopK(true), QuantScheme.FP8_PER_TENSOR, ROWS))));
    }

    @ParameterizedTest(name = "{0}: 20 runs of M=64 give identical bits")
    @MethodSource("allQuantisations")
    void repeatedCallsGiveIdenticalBits(MoeLayerSpec layer) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom random = new SplittableRandom(3);
            Tensor hidden = hidden(arena, layer, random), logits = logits(arena, layer, random);
            short[][] runs = run(arena, layer, new Tensor[]{hidden}, new Tensor[]{logits}, REPEATS);
            LaunchPlan plan = planOf(layer);
            for (int n = 1; n < REPEATS; n++) {
                int first = firstDifference(runs[0], runs[n]);
                int run = n;
                assertEquals(-1, first, () -> "run " + run + " differs from run 0 at element " + first + " (" + plan + ")");
            }
            assertTrue(nonZero(runs[0]), "the output is all zeros: nothing was computed");
        }
    }

    @ParameterizedTest(name = "{0}: a row's output does not depend on its 64-row batch")
    @MethodSource("layers")
    void rowOutputDoesNotDependOnTheBatch(MoeLayerSpec layer) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom random = new SplittableRandom(7);
            int h = layer.hiddenSize(), e = layer.numExperts();
            Tensor hiddenA = hidden(arena, layer, random), logitsA = logits(arena, layer, random);
            // batch B: A's even rows in reverse order at B's odd positions, fresh tokens elsewhere
            Tensor hiddenB = hidden(arena, layer, random), logitsB = logits(arena, layer, random);
            for (int a = 0; a < ROWS; a += 2) {
                int b = ROWS - 1 - a;
                copyRow(hiddenA, hiddenB, a, b, h);
                copyRow(logitsA, logitsB, a, b, e);
            }
            short[][] out = run(arena, layer, new Tensor[]{hiddenA, hiddenB}, new Tensor[]{logitsA, logitsB}, 1);
            int checked = 0;
            for (int a = 0; a < ROWS; a += 2) {
                int b = ROWS - 1 - a;
                for (int c = 0; c < h; c++) {
                    if (out[0][a * h + c] != out[1][b * h + c]) {
                        fail("token at row " + a + " of batch A and row " + b + " of batch B: column " + c + " differs ("
                                + HostTensors.bf16ToFloat(out[0][a * h + c]) + " vs " + HostTensors.bf16ToFloat(out[1][b * h + c])
                                + "); plan " + planOf(layer));
                    }
                    checked++;
                }
            }
            assertEquals(ROWS / 2 * h, checked);
            // the fresh rows differ from A's rows at those positions, so the batches really differed
            assertTrue(firstDifference(out[0], out[1]) >= 0, "batches A and B gave the same output: the test is vacuous");
        }
    }

    private static LaunchPlan planOf(MoeLayerSpec layer) {
        return LaunchPlan.of(layer, ROWS, Cuda.detectDevice().multiprocessors(), true);
    }

    /**
     * Runs {@code hidden[b], logits[b]} for every batch b through one kernel, {@code times} times each; returns the
     * bf16 bits of every output in call order (batch-major).
     */
    private static short[][] run(Arena arena, MoeLayerSpec layer, Tensor[] hidden, Tensor[] logits, int times) throws Exception {
        MoeWeights weights = Fp8TestWeights.quantised(arena, layer, 42);
        var gpu = new KernelContext(ModelRole.TARGET, Cuda.detectDevice(), false);
        short[][] result = new short[hidden.length * times][];
        Tensor out = HostTensors.allocate(arena, DType.BF16, ROWS, layer.hiddenSize());
        try (FlashInferTrtllmMoeKernel kernel = (FlashInferTrtllmMoeKernel) new FlashInferTrtllmMoeBackendProvider().create(layer, gpu);
             CudaContext ctx = CudaContext.open(Cuda.detectDevice().ordinal());
             CudaStream stream = CudaStream.create(ctx);
             DeviceBuffer h = DeviceBuffer.alloc(ctx, hidden[0].byteSize());
             DeviceBuffer l = DeviceBuffer.alloc(ctx, logits[0].byteSize());
             DeviceBuffer o = DeviceBuffer.alloc(ctx, out.byteSize())) {
            kernel.loadWeights(weights);
            int n = 0;
            for (int b = 0; b < hidden.length; b++) {
                h.copyFrom(hidden[b].data().asSlice(0, hidden[b].byteSize()));
                l.copyFrom(logits[b].data().asSlice(0, logits[b].byteSize()));
                for (int t = 0; t < times; t++) {
                    o.fill((byte) 0xff); // bf16 0xffff is NaN: every element must be rewritten
                    kernel.forward(h.asTensor(DType.BF16, ROWS, layer.hiddenSize()), l.asTensor(DType.F32, ROWS, layer.numExperts()),
                            o.asTensor(DType.BF16, ROWS, layer.hiddenSize()), stream.handle());
                    stream.synchronize();
                    o.copyTo(out.data().asSlice(0, out.byteSize()));
                    short[] bits = out.data().asSlice(0, out.byteSize()).toArray(ValueLayout.JAVA_SHORT);
                    for (short s : bits) {
                        if (Float.isNaN(HostTensors.bf16ToFloat(s))) fail("an output element was not written (NaN)");
                    }
                    result[n++] = bits;
                }
            }
        }
        return result;
    }

    private static Tensor hidden(Arena arena, MoeLayerSpec layer, SplittableRandom random) {
        float[] x = new float[ROWS * layer.hiddenSize()];
        for (int n = 0; n < x.length; n++) x[n] = (float) Fp8TestWeights.gauss(random) * (n % 37 == 0 ? 8 : 1);
        return HostTensors.fromFloats(arena, DType.BF16, x, ROWS, layer.hiddenSize());
    }

    private static Tensor logits(Arena arena, MoeLayerSpec layer, SplittableRandom random) {
        float[] v = new float[ROWS * layer.numExperts()];
        for (int n = 0; n < v.length; n++) v[n] = (float) (Fp8TestWeights.gauss(random) * 1.5);
        return HostTensors.fromFloats(arena, DType.F32, v, ROWS, layer.numExperts());
    }

    private static void copyRow(Tensor from, Tensor to, int fromRow, int toRow, int cols) {
        for (int c = 0; c < cols; c++) HostTensors.set(to, (long) toRow * cols + c, HostTensors.get(from, (long) fromRow * cols + c));
    }

    private static int firstDifference(short[] a, short[] b) {
        for (int n = 0; n < a.length; n++) if (a[n] != b[n]) return n;
        return -1;
    }

    private static boolean nonZero(short[] bits) {
        for (short s : bits) if ((s & 0x7fff) != 0) return true;
        return false;
    }
}
