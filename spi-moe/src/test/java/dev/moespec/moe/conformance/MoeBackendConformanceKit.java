package dev.moespec.moe.conformance;

import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeTensorChecks;
import dev.moespec.moe.MoeWeights;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The conformance kit every MoE backend jar runs: extend this class in your tests (depend on
 * {@code moespec-spi-moe} with {@code <type>test-jar</type>}) and implement {@link #provider()}, {@link #device()}
 * and {@link #expectedSupported()}; a GPU backend also overrides {@link #harness()}.
 *
 * <h2>Numerics</h2>
 * For every quantization in {@link #expectedSupported()}, every {@link ConformanceCase} (expert counts up to 256,
 * top-1, H and I that are not multiples of 16/64/128, experts that receive no token, softmax and sigmoid-grouped
 * routing) and M ∈ {@link ConformanceCase#TOKEN_COUNTS}, the backend's output is compared with an independent fp64
 * oracle that rounds activations at the same two points as the GPU paths. The metric is the relative Frobenius error
 * {@code ‖out − ref‖ / ‖ref‖} over the whole {@code [M, H]} output, and the bounds are:
 * <ul>
 *   <li>BF16, FP16 (and fp32 activations): ≤ 1e-2</li>
 *   <li>FP8_PER_TENSOR, FP8_PER_CHANNEL, FP8_BLOCK_128: ≤ 2e-2</li>
 * </ul>
 * These bounds are part of the contract: do not widen them to make a backend pass. The output is poisoned with NaN
 * before each call and every element must have been written. Router logits are drawn so that no routing decision is
 * within {@value ConformanceData#MIN_ROUTING_MARGIN} of a tie, and tokens whose FP8 activations fall within a relative
 * {@value Fp64Oracle#FP8_AMBIGUITY} of an e4m3 rounding midpoint are redrawn: fp32 noise may round those either way
 * in a correct kernel, and one such flip near the top of a per-tensor range moves a token's output by several
 * percent. The kit checks arithmetic, not tie-breaking.
 *
 * <h2>Rejections</h2>
 * {@code check} answers {@link Eligibility.Rejected} (never throws) for quantizations outside
 * {@link #expectedSupported()}; {@code forward} throws {@link IllegalArgumentException} naming the offending tensor for
 * wrong shapes, wrong dtypes and M above {@code maxTokens}, before writing anything.
 *
 * <p>A case the backend rejects for its shape or routing ({@code UNSUPPORTED_SHAPE}, {@code UNSUPPORTED_ROUTING}) is
 * skipped, but every expected quantization must run at least one case. Rejections that describe the machine
 * ({@code NO_DEVICE}, {@code NO_KERNELS}, {@code DEVICE_ERROR}) abort the tests instead of failing them, so a GPU
 * backend's kit run is skipped, visibly, on a machine without a GPU.
 */
public abstract class MoeBackendConformanceKit {

    /** The backend under test. */
    protected abstract MoeBackendProvider provider();

    /** The device the kernels run on (and that {@code check} is asked about). */
    protected abstract DeviceInfo device();

    /** The quantizations {@code check} must accept on {@link #device()}; every other one must be rejected. */
    protected abstract Set<QuantScheme> expectedSupported();

    /** How kernels are called; override to move tensors to the device and back. */
    protected KernelHarness harness() {
        return KernelHarness.host();
    }

    /** The relative Frobenius error bound for {@code quant}. Fixed by the contract; see the class javadoc. */
    public static double tolerance(QuantScheme quant) {
        return quant.isFp8() ? 2e-2 : 1e-2;
    }

    @TestFactory
    Stream<DynamicNode> numericsMatchTheFp64Oracle() {
        return supportedInOrder().stream().map(quant -> DynamicContainer.dynamicContainer(quant.cliName(),
                ConformanceCase.all().stream().map(c -> DynamicContainer.dynamicContainer(c.toString(),
                        ConformanceCase.TOKEN_COUNTS.stream().map(m ->
                                DynamicTest.dynamicTest("M=" + m, () -> runNumerics(c, quant, m)))))));
    }

    @TestFactory
    Stream<DynamicTest> checkAnswersEveryQuantizationWithoutThrowing() {
        MoeLayerSpec base = aligned().layer(QuantScheme.BF16);
        return Stream.of(QuantScheme.values()).map(quant -> DynamicTest.dynamicTest(quant.cliName(), () -> {
            Eligibility verdict = provider().check(base.withQuant(quant), device());
            assertNotNull(verdict, "check() returned null for " + quant.cliName());
            if (expectedSupported().contains(quant)) {
                abortIfMachineLacks(verdict);
                assertTrue(verdict.isEligible(), () -> provider().name() + " must accept " + quant.cliName()
                        + " (it is in expectedSupported()) for " + base.withQuant(quant).describe() + ", got " + verdict);
            } else {
                assertInstanceOf(Eligibility.Rejected.class, verdict, () -> provider().name() + " must reject "
                        + quant.cliName() + " (it is not in expectedSupported())");
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> everyExpectedQuantizationRunsSomeCase() {
        return supportedInOrder().stream().map(quant -> DynamicTest.dynamicTest(quant.cliName(), () -> {
            List<String> rejections = new ArrayList<>();
            for (ConformanceCase c : ConformanceCase.all()) {
                Eligibility verdict = provider().check(c.layer(quant), device());
                abortIfMachineLacks(verdict);
                if (verdict.isEligible()) return;
                rejections.add(c.name() + ": " + verdict);
            }
            fail(provider().name() + " rejects every conformance case for " + quant.cliName() + ": " + rejections);
        }));
    }

    @TestFactory
    Stream<DynamicTest> forwardRefusesBadArgumentsBeforeWriting() {
        QuantScheme quant = supportedInOrder().getFirst();
        MoeLayerSpec layer = new ConformanceCase("args", 8, 2, 64, 32,
                new dev.moespec.moe.Routing.SoftmaxTopK(true), false, 99).layer(quant).withMaxTokens(8);
        DType act = MoeTensorChecks.activationDType(quant);
        DType otherAct = act == DType.BF16 ? DType.F16 : DType.BF16;
        int h = layer.hiddenSize(), e = layer.numExperts();
        return Stream.of(
                badCall("hidden with the wrong hidden size", layer, "hidden",
                        a -> HostTensors.allocate(a, act, 4, h + 1), a -> logits(a, 4, e), a -> HostTensors.allocate(a, act, 4, h)),
                badCall("hidden of rank 1", layer, "hidden",
                        a -> HostTensors.allocate(a, act, h), a -> logits(a, 1, e), a -> HostTensors.allocate(a, act, 1, h)),
                badCall("router logits with the wrong expert count", layer, "routerLogits",
                        a -> HostTensors.allocate(a, act, 4, h), a -> logits(a, 4, e + 1), a -> HostTensors.allocate(a, act, 4, h)),
                badCall("router logits with another token count", layer, "routerLogits",
                        a -> HostTensors.allocate(a, act, 4, h), a -> logits(a, 3, e), a -> HostTensors.allocate(a, act, 4, h)),
                badCall("out with the wrong shape", layer, "out",
                        a -> HostTensors.allocate(a, act, 4, h), a -> logits(a, 4, e), a -> HostTensors.allocate(a, act, 4, h - 1)),
                badCall("hidden in the wrong dtype", layer, "hidden",
                        a -> HostTensors.allocate(a, otherAct, 4, h), a -> logits(a, 4, e), a -> HostTensors.allocate(a, otherAct, 4, h)),
                badCall("out in another dtype than hidden", layer, "out",
                        a -> HostTensors.allocate(a, act, 4, h), a -> logits(a, 4, e), a -> HostTensors.allocate(a, otherAct, 4, h)),
                badCall("integer router logits", layer, "routerLogits",
                        a -> HostTensors.allocate(a, act, 4, h), a -> HostTensors.allocate(a, DType.I32, 4, e), a -> HostTensors.allocate(a, act, 4, h)),
                badCall("M above maxTokens", layer, "maxTokens",
                        a -> HostTensors.allocate(a, act, 9, h), a -> logits(a, 9, e), a -> HostTensors.allocate(a, act, 9, h)));
    }

    private DynamicTest badCall(String what, MoeLayerSpec layer, String mustMention, java.util.function.Function<Arena, Tensor> hidden,
                                java.util.function.Function<Arena, Tensor> logits, java.util.function.Function<Arena, Tensor> out) {
        return DynamicTest.dynamicTest(what, () -> {
            abortIfMachineLacks(provider().check(layer, device()));
            try (Arena arena = Arena.ofConfined(); MoeKernel kernel = create(layer)) {
                kernel.loadWeights(ConformanceData.weights(arena, layer, new java.util.Random(7)));
                Tensor o = out.apply(arena);
                poison(o);
                Tensor hTensor = hidden.apply(arena), lTensor = logits.apply(arena);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> harness().forward(kernel, hTensor, lTensor, o), () -> what + " must be refused");
                assertNotNull(e.getMessage(), "the IllegalArgumentException needs a message");
                assertTrue(e.getMessage().contains(mustMention), () -> "message should name '" + mustMention + "': " + e.getMessage());
                for (long n = 0; n < o.elementCount(); n++) {
                    assertTrue(Float.isNaN(HostTensors.get(o, n)), "a refused call wrote out[" + n + "]");
                }
            }
        });
    }

    private void runNumerics(ConformanceCase c, QuantScheme quant, int m) throws MoeKernelUnavailableException {
        MoeLayerSpec layer = c.layer(quant);
        Eligibility verdict = provider().check(layer, device());
        abortIfMachineLacks(verdict);
        if (verdict instanceof Eligibility.Rejected r) {
            assertNotEquals(Eligibility.Reason.UNSUPPORTED_QUANTIZATION, r.reason(),
                    () -> quant.cliName() + " is expected to be supported, but check() says " + r);
            Assumptions.abort("backend rejects this shape: " + r);
        }
        try (Arena arena = Arena.ofConfined(); MoeKernel kernel = create(layer)) {
            ConformanceData data = ConformanceData.generate(arena, c, quant, m);
            kernel.loadWeights(data.weights());
            Tensor out = HostTensors.allocate(arena, data.hidden().dtype(), m, layer.hiddenSize());
            poison(out);
            harness().forward(kernel, data.hidden(), data.routerLogits(), out);
            if (m == 0) return;
            double error = relativeError(out, data.expected());
            assertTrue(error <= tolerance(quant), () -> String.format(Locale.ROOT,
                    "%s: relative Frobenius error %.3e exceeds %.0e for %s, M=%d", provider().name(), error, tolerance(quant),
                    layer.describe(), m));
        }
    }

    private MoeKernel create(MoeLayerSpec layer) throws MoeKernelUnavailableException {
        MoeKernel kernel = provider().create(layer, new KernelContext(ModelRole.TARGET, device(), false));
        assertEquals(provider().name(), kernel.backend(), "MoeKernel.backend() must be the provider's name");
        assertEquals(layer, kernel.layer(), "MoeKernel.layer() must be the layer it was created for");
        return kernel;
    }

    private List<QuantScheme> supportedInOrder() {
        Set<QuantScheme> supported = expectedSupported();
        if (supported.isEmpty()) throw new IllegalStateException("expectedSupported() is empty: a backend must serve something");
        return List.copyOf(EnumSet.copyOf(supported));
    }

    private static ConformanceCase aligned() {
        return ConformanceCase.all().stream().filter(c -> c.name().equals("aligned")).findFirst().orElseThrow();
    }

    private static Tensor logits(Arena arena, int tokens, int experts) {
        return HostTensors.allocate(arena, DType.F32, tokens, experts);
    }

    /** Fills {@code t} with NaN, so that {@link #relativeError} can tell an element the call never wrote. */
    public static void poison(Tensor t) {
        for (long n = 0; n < t.elementCount(); n++) HostTensors.set(t, n, Float.NaN);
    }

    /**
     * The kit's metric for a backend's own comparisons with a reference: the relative Frobenius error
     * {@code ‖out − reference‖ / ‖reference‖} over the whole {@code [M, H]} output, failing the test on an element the
     * call left at the {@link #poison} NaN.
     */
    public static double relativeError(Tensor out, Tensor reference) {
        double[] ref = new double[Math.toIntExact(reference.elementCount())];
        for (int n = 0; n < ref.length; n++) ref[n] = HostTensors.get(reference, n);
        return relativeError(out, ref);
    }

    private static double relativeError(Tensor out, double[] ref) {
        long width = out.dim(out.rank() - 1);
        double diff = 0, norm = 0;
        for (int n = 0; n < ref.length; n++) {
            float v = HostTensors.get(out, n);
            if (Float.isNaN(v)) fail("out[" + n / width + ", " + n % width + "] was not written (still the NaN poison)");
            diff += (v - ref[n]) * (v - ref[n]);
            norm += ref[n] * ref[n];
        }
        return Math.sqrt(diff / norm);
    }

    /**
     * Seeded weights in {@code layer}'s storage format, drawn as the kit's cases draw them: Gaussian with std
     * 1/sqrt(fan-in), and for FP8 quantised like a checkpoint (scale = amax / 448 per scale group).
     */
    public static MoeWeights randomWeights(Arena arena, MoeLayerSpec layer, Random random) {
        return ConformanceData.weights(arena, layer, random);
    }

    private static void abortIfMachineLacks(Eligibility verdict) {
        if (verdict instanceof Eligibility.Rejected r && switch (r.reason()) {
            case NO_DEVICE, NO_KERNELS, DEVICE_ERROR -> true;
            default -> false;
        }) {
            Assumptions.abort("this machine cannot run the backend: " + r);
        }
    }
}
