package dev.moespec.backend.flashinfer;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.cuda.CudaException;
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
 * {@code flashinfer_trtllm}: FP8 tensor-core MoE in the TensorRT-LLM / FlashInfer design (FP8 weights, FP8
 * activations quantised on the fly, per-block or per-tensor scales), in CUDA C++. Hopper runs it on sm_90a
 * {@code wgmma}, Ada on sm_89 {@code mma.sync} e4m3.
 *
 * <p>Eligibility, checked in this order (the first failing rule is reported):
 * <ol>
 *   <li>a CUDA device → else {@link Reason#NO_DEVICE};</li>
 *   <li>{@link QuantScheme#FP8_BLOCK_128} or {@link QuantScheme#FP8_PER_TENSOR} → else
 *       {@link Reason#UNSUPPORTED_QUANTIZATION} (BF16, FP16, FP8 per-channel). Checked before the GPU because
 *       it is a property of the checkpoint that no GPU fixes: a BF16 draft that inherited this backend is
 *       told to use triton, not to buy a newer card;</li>
 *   <li>sm_89 or newer (FP8 tensor cores) → else {@link Reason#UNSUPPORTED_DEVICE};</li>
 *   <li>hidden and intermediate sizes multiples of 128 for block-128 (the weight block), of 16 for per-tensor
 *       (16-byte rows of e4m3) → else {@link Reason#UNSUPPORTED_SHAPE};</li>
 *   <li>at most {@value #MAX_EXPERTS} experts (the routing kernel keeps a token's scores in shared memory) and
 *       → else {@link Reason#UNSUPPORTED_SHAPE}; consistent grouped-top-k parameters → else
 *       {@link Reason#UNSUPPORTED_ROUTING};</li>
 *   <li>the module's fatbin on the class path → else {@link Reason#NO_KERNELS}.</li>
 * </ol>
 * {@link #create} returns a {@link FlashInferTrtllmMoeKernel}: in plan-only mode one without device state, else one
 * that owns a context, its kernels and a workspace sized from {@code maxTokens}.
 */
public final class FlashInferTrtllmMoeBackendProvider implements MoeBackendProvider {

    public static final String NAME = "flashinfer_trtllm";
    static final String ARTIFACT_ID = "moespec-backend-flashinfer-trtllm";
    static final int MIN_SM = 89;
    static final int BLOCK = 128;
    /** 16-byte rows of one-byte e4m3 values (vector loads, TMA row alignment). */
    static final int PER_TENSOR_MULTIPLE = 16;

    /** The routing kernel holds 4 floats per expert per token in shared memory: 512 experts = 32 KiB per block. */
    static final int MAX_EXPERTS = 512;

    private final ClassLoader kernelLoader;
    private final boolean kernelsPresent;

    /** The ServiceLoader constructor: looks for the fatbin next to this class. */
    public FlashInferTrtllmMoeBackendProvider() {
        this(FlashInferTrtllmMoeBackendProvider.class.getClassLoader());
    }

    /** Looks for the fatbin in {@code kernelLoader} instead (tests: a loader without it). */
    FlashInferTrtllmMoeBackendProvider(ClassLoader kernelLoader) {
        this.kernelLoader = kernelLoader;
        this.kernelsPresent = CudaModule.hasKernels(kernelLoader, ARTIFACT_ID);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "FP8 tensor-core fused MoE (TensorRT-LLM / FlashInfer design, in CUDA C++): fp8_block_128 and "
                + "fp8_per_tensor on sm_89+ (wgmma on sm_90a, mma.sync e4m3 on sm_89)";
    }

    @Override
    public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
        if (!device.isCuda()) {
            return Eligibility.rejected(Reason.NO_DEVICE, "flashinfer_trtllm runs on CUDA GPUs only and this run has "
                    + device.describe() + "; use --moe-backend auto, which picks cpu_reference here");
        }
        QuantScheme quant = layer.quant();
        if (quant != QuantScheme.FP8_BLOCK_128 && quant != QuantScheme.FP8_PER_TENSOR) {
            return Eligibility.rejected(Reason.UNSUPPORTED_QUANTIZATION, "flashinfer_trtllm serves FP8 weights only "
                    + "(fp8_block_128, fp8_per_tensor); this layer is " + quant.cliName() + ". Use triton, or auto");
        }
        if (device.sm() < MIN_SM) {
            return Eligibility.rejected(Reason.UNSUPPORTED_DEVICE, ("flashinfer_trtllm needs FP8 tensor cores (sm_89 Ada, "
                    + "sm_90 Hopper or newer); %s is sm_%d. Use triton (it dequantises FP8 weights to BF16 at load), or auto")
                    .formatted(device.name(), device.sm()));
        }
        int multiple = quant == QuantScheme.FP8_BLOCK_128 ? BLOCK : PER_TENSOR_MULTIPLE;
        String why = quant == QuantScheme.FP8_BLOCK_128 ? "the 128x128 weight block of fp8_block_128" : "16-byte rows of fp8_per_tensor e4m3 values";
        if (layer.hiddenSize() % multiple != 0) {
            return notMultiple("hidden size H", layer.hiddenSize(), multiple, why);
        }
        if (layer.intermediateSize() % multiple != 0) {
            return notMultiple("intermediate size I", layer.intermediateSize(), multiple, why);
        }
        if (layer.numExperts() > MAX_EXPERTS) {
            return Eligibility.rejected(Reason.UNSUPPORTED_SHAPE, "numExperts=%d exceeds flashinfer_trtllm's routing limit of %d experts; use triton, or auto"
                    .formatted(layer.numExperts(), MAX_EXPERTS));
        }
        if (layer.routing() instanceof Routing.SigmoidGroupedTopK g) {
            int e = layer.numExperts();
            String problem = e % g.numGroups() != 0 ? "numExperts=" + e + " is not divisible by numGroups=" + g.numGroups()
                    : g.correctionBias().length != e ? "correctionBias has " + g.correctionBias().length + " entries, expected numExperts=" + e
                    : layer.topK() > g.topKGroups() * (e / g.numGroups()) ? "top-" + layer.topK() + " cannot be taken from topKGroups="
                    + g.topKGroups() + " groups of " + (e / g.numGroups()) + " experts" : null;
            if (problem != null) {
                return Eligibility.rejected(Reason.UNSUPPORTED_ROUTING, "inconsistent grouped top-k routing: " + problem);
            }
        }
        if (!kernelsPresent) {
            return Eligibility.rejected(Reason.NO_KERNELS, "flashinfer_trtllm's CUDA kernels (" + CudaModule.kernelResource(ARTIFACT_ID)
                    + ") are missing from its jar: it was built without nvcc: rebuild with CUDA installed "
                    + "(or pass -Dmoespec.nvcc=/path/to/nvcc)");
        }
        return Eligibility.eligible();
    }

    private static Eligibility notMultiple(String what, int size, int multiple, String why) {
        return Eligibility.rejected(Reason.UNSUPPORTED_SHAPE, "%s=%d is not a multiple of %d (%s); use triton, or auto"
                .formatted(what, size, multiple, why));
    }

    /**
     * The layer's kernel: refused with the layer's own rejection when {@link #check} fails; in plan-only mode a kernel
     * without device state (nothing is allocated); else one on the context's device, with its workspace.
     */
    @Override
    public MoeKernel create(MoeLayerSpec layer, KernelContext context) throws MoeKernelUnavailableException {
        if (check(layer, context.device()) instanceof Eligibility.Rejected rejected) {
            throw new MoeKernelUnavailableException(NAME, rejected);
        }
        if (context.planOnly()) return FlashInferTrtllmMoeKernel.planOnly(layer);
        try {
            return FlashInferTrtllmMoeKernel.open(layer, context.device().ordinal(), kernelLoader);
        } catch (CudaException e) {
            throw new MoeKernelUnavailableException(NAME, Eligibility.rejected(Reason.DEVICE_ERROR,
                    "flashinfer_trtllm could not set up its kernels on " + context.device().describe() + ": " + e.getMessage()));
        }
    }
}
