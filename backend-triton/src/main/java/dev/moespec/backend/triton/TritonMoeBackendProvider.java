package dev.moespec.backend.triton;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.cuda.CudaModule;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.Eligibility.Reason;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;

/**
 * {@code triton}: the block-aligned grouped-GEMM fused MoE of vLLM's Triton {@code fused_moe}, implemented in
 * CUDA C++ (the name follows vLLM's {@code --moe-backend triton}; no Triton compiler is involved).
 *
 * <p>Eligibility, checked in this order (the first failing rule is reported):
 * <ol>
 *   <li>a CUDA device → else {@link Reason#NO_DEVICE};</li>
 *   <li>sm_80 or newer → else {@link Reason#UNSUPPORTED_DEVICE};</li>
 *   <li>every {@link dev.moespec.api.config.QuantScheme}: BF16/FP16 natively; FP8 (per-tensor, per-channel,
 *       block-128) as w8a8 on FP8 tensor cores from sm_89, and on sm_80–88 by dequantising the weights to
 *       BF16 at load — which is what lets an FP8 checkpoint run on an A100;</li>
 *   <li>hidden and intermediate sizes multiples of 8 (16-byte vector loads), at most 1024 experts
 *       (the routing kernel's one-warp-per-token layout) → else {@link Reason#UNSUPPORTED_SHAPE};</li>
 *   <li>top-k at most 32, and for sigmoid grouped routing at most 32 groups that split the experts
 *       evenly → else {@link Reason#UNSUPPORTED_ROUTING};</li>
 *   <li>the module's fatbin on the class path → else {@link Reason#NO_KERNELS}.</li>
 * </ol>
 * {@link #create} returns a {@link TritonMoeKernel} for every eligible layer; it touches the device only at
 * {@code loadWeights}, so plan-only callers create kernels on any machine.
 */
public final class TritonMoeBackendProvider implements MoeBackendProvider {

    public static final String NAME = "triton";
    static final String ARTIFACT_ID = "moespec-backend-triton";
    static final int MIN_SM = 80;
    static final int MIN_FP8_TENSOR_CORE_SM = 89;
    /** 16-byte vector loads of 2-byte elements. */
    static final int SIZE_MULTIPLE = 8;
    /** One warp per token, one 32-bit "taken" mask per lane: 32 lanes x 32 experts. */
    static final int MAX_EXPERTS = 1024;
    /** Lane r of the routing warp holds the r-th choice. */
    static final int MAX_TOP_K = 32;
    static final int MAX_GROUPS = 32;

    private final boolean kernelsPresent;
    private final ClassLoader kernelLoader;
    /** Tests: run FP8 layers on the dequantise-at-load path (what sm_80-88 do) on any device. */
    private final boolean forceDequantise;

    /** The ServiceLoader constructor: looks for the fatbin next to this class. */
    public TritonMoeBackendProvider() {
        this(TritonMoeBackendProvider.class.getClassLoader(), false);
    }

    /** Looks for the fatbin in {@code kernelLoader} instead (tests: a loader without it). */
    TritonMoeBackendProvider(ClassLoader kernelLoader) {
        this(kernelLoader, false);
    }

    TritonMoeBackendProvider(ClassLoader kernelLoader, boolean forceDequantise) {
        this.kernelLoader = kernelLoader;
        this.kernelsPresent = CudaModule.hasKernels(kernelLoader, ARTIFACT_ID);
        this.forceDequantise = forceDequantise;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "block-aligned grouped-GEMM fused MoE (vLLM's Triton fused_moe algorithm, in CUDA C++): "
                + "bf16/fp16 on sm_80+, fp8 w8a8 on sm_89+, fp8 dequantised to bf16 at load on sm_80-88";
    }

    @Override
    public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
        if (!device.isCuda()) {
            return Eligibility.rejected(Reason.NO_DEVICE, "triton runs on CUDA GPUs only and this run has "
                    + device.describe() + "; use --moe-backend auto, which picks cpu_reference here");
        }
        if (device.sm() < MIN_SM) {
            return Eligibility.rejected(Reason.UNSUPPORTED_DEVICE, "triton needs sm_%d or newer (Ampere, Ada, Hopper); %s is sm_%d"
                    .formatted(MIN_SM, device.name(), device.sm()));
        }
        // Every QuantScheme runs from sm_80: FP8 natively from sm_89, dequantised to BF16 at load below it.
        Eligibility shape = checkShape(layer);
        if (!shape.isEligible()) return shape;
        Eligibility routing = checkRouting(layer);
        if (!routing.isEligible()) return routing;
        if (!kernelsPresent) {
            return Eligibility.rejected(Reason.NO_KERNELS, "triton's CUDA kernels (" + CudaModule.kernelResource(ARTIFACT_ID)
                    + ") are missing from its jar: it was built without nvcc: rebuild with CUDA installed "
                    + "(or pass -Dmoespec.nvcc=/path/to/nvcc)");
        }
        return Eligibility.eligible();
    }

    private static Eligibility checkShape(MoeLayerSpec layer) {
        if (layer.hiddenSize() % SIZE_MULTIPLE != 0) {
            return notMultiple("hidden size H", layer.hiddenSize());
        }
        if (layer.intermediateSize() % SIZE_MULTIPLE != 0) {
            return notMultiple("intermediate size I", layer.intermediateSize());
        }
        if (layer.numExperts() > MAX_EXPERTS) {
            return Eligibility.rejected(Reason.UNSUPPORTED_SHAPE, "E=%d experts exceed triton's routing limit of %d (one warp per token, 32 experts per lane)"
                    .formatted(layer.numExperts(), MAX_EXPERTS));
        }
        return Eligibility.eligible();
    }

    private static Eligibility notMultiple(String what, int size) {
        return Eligibility.rejected(Reason.UNSUPPORTED_SHAPE, "%s=%d is not a multiple of %d (triton loads 16-byte vectors of %d bf16 values); use --moe-backend auto"
                .formatted(what, size, SIZE_MULTIPLE, SIZE_MULTIPLE));
    }

    private static Eligibility checkRouting(MoeLayerSpec layer) {
        if (layer.topK() > MAX_TOP_K) {
            return Eligibility.rejected(Reason.UNSUPPORTED_ROUTING, "top-k %d exceeds triton's routing limit of %d experts per token"
                    .formatted(layer.topK(), MAX_TOP_K));
        }
        if (layer.routing() instanceof Routing.SigmoidGroupedTopK grouped) {
            if (grouped.numGroups() > MAX_GROUPS) {
                return Eligibility.rejected(Reason.UNSUPPORTED_ROUTING, "sigmoid grouped routing with %d groups exceeds triton's limit of %d groups"
                        .formatted(grouped.numGroups(), MAX_GROUPS));
            }
            if (layer.numExperts() % grouped.numGroups() != 0) {
                return Eligibility.rejected(Reason.UNSUPPORTED_ROUTING, "sigmoid grouped routing needs the E=%d experts to split evenly into %d groups"
                        .formatted(layer.numExperts(), grouped.numGroups()));
            }
            if (grouped.correctionBias().length != layer.numExperts()) {
                return Eligibility.rejected(Reason.UNSUPPORTED_ROUTING, "sigmoid grouped routing needs one correction bias per expert: %d biases for E=%d"
                        .formatted(grouped.correctionBias().length, layer.numExperts()));
            }
            int selectable = grouped.topKGroups() * (layer.numExperts() / grouped.numGroups());
            if (layer.topK() > selectable) {
                return Eligibility.rejected(Reason.UNSUPPORTED_ROUTING, "top-%d cannot be taken from %d groups of %d experts"
                        .formatted(layer.topK(), grouped.topKGroups(), layer.numExperts() / grouped.numGroups()));
            }
        }
        return Eligibility.eligible();
    }

    /**
     * A {@link TritonMoeKernel} for an eligible layer (refused with the layer's rejection otherwise). Allocates nothing:
     * the device is opened and memory allocated at {@code loadWeights}, so plan-only callers are served too.
     */
    @Override
    public MoeKernel create(MoeLayerSpec layer, KernelContext context) throws MoeKernelUnavailableException {
        if (check(layer, context.device()) instanceof Eligibility.Rejected rejected) {
            throw new MoeKernelUnavailableException(NAME, rejected);
        }
        TritonNumerics numerics = TritonNumerics.of(layer, context.device().sm(), forceDequantise);
        return new TritonMoeKernel(layer, context.device().ordinal(), numerics, kernelLoader);
    }
}
