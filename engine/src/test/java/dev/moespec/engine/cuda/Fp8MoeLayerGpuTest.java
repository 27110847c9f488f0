package dev.moespec.engine.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.Cuda;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.loader.MoeDecoderLayout;
import dev.moespec.engine.model.MoeWeightsFactory;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import dev.moespec.moe.registry.MoeBackendRegistry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One MoE layer at a time, the same BF16 input rows into the GPU FP8 kernels (flashinfer_trtllm, triton in FP8 mode)
 * and into {@code cpu_reference} FP8_BLOCK_128: do they compute the same W8A8 math? The rows are the real MoE inputs
 * of the demo target (from its CUDA-runner-rounded CPU twin, teacher-forced over golden prompts), each layer's router
 * logits with them. Besides cpu_reference as shipped, the output is compared with {@link Fp8MoeVariants} — the same
 * math with one rounding choice changed — so the printed table says which input rounding, activation scale and
 * rounding mode, intermediate re-quantisation and output rounding each kernel implements.
 */
@Tag("gpu")
class Fp8MoeLayerGpuTest {
    /**
     * Relative Frobenius bound, GPU kernel vs cpu_reference with the kernels' BF16 input and output. Both sides round
     * to e4m3 and BF16 at the same points, so what remains are fp32 summation-order differences that flip a rounding
     * now and then; issue 5 asks for ~1e-3.
     */
    static final double LAYER_REL_BOUND = 1e-3;
    /**
     * The conformance kit's fixed FP8 bound, for the stacked 4-prompt rows only: with >= 64 rows per expert
     * flashinfer_trtllm takes its sm_90 wgmma path, whose FP8 accumulation keeps ~14 mantissa bits (its README
     * measures 4e-3 against cpu_reference), so that case is reported against the kit's bound, not the 1e-3 above.
     */
    static final double KIT_FP8_BOUND = 2e-2;

    private record Rows(String name, float[] hidden, float[] logits, int m, boolean wgmmaSized) {}

    @BeforeEach
    void gpu() {
        GpuModels.assumeGpuRunner();
    }

    @Test
    void fp8KernelsComputeWhatCpuReferenceComputesLayerByLayer() {
        Path dir = DemoModels.target();
        ModelConfig cfg = ModelConfig.load(dir);
        JsonNode prompts = GpuModels.GOLDEN.path("prompts");
        int layers = cfg.numHiddenLayers(), h = cfg.hiddenSize(), e = cfg.numExperts();
        List<List<Rows>> perLayer = new ArrayList<>();
        MoeLayerSpec spec;
        try (CudaPathReference twin = new CudaPathReference(dir, QuantScheme.FP8_BLOCK_128, CudaPathReference.Rounding.CUDA_RUNNER)) {
            spec = twin.spec();
            for (int l = 0; l < layers; l++) perLayer.add(new ArrayList<>());
            List<float[]>[] stackedH = newLists(layers), stackedL = newLists(layers);
            for (int p = 0; p < prompts.size(); p++) {
                twin.logits(GpuModels.forcedSequence(prompts.get(p), "target_fp8"));
                for (int l = 0; l < layers; l++) {
                    CudaPathReference.MoeCall c = twin.moeCall(l);
                    if (p == 0 || p == 2) perLayer.get(l).add(new Rows("prompt " + p, c.hidden(), c.routerLogits(), c.rows(), false));
                    if (p == 0) {
                        perLayer.get(l).add(new Rows("4 rows (decode size)", java.util.Arrays.copyOf(c.hidden(), 4 * h),
                                java.util.Arrays.copyOf(c.routerLogits(), 4 * e), 4, false));
                    }
                    stackedH[l].add(c.hidden());
                    stackedL[l].add(c.routerLogits());
                }
            }
            for (int l = 0; l < layers; l++) {
                float[] hs = DeviceArrays.concat(stackedH[l].toArray(float[][]::new)),
                        ls = DeviceArrays.concat(stackedL[l].toArray(float[][]::new));
                perLayer.get(l).add(new Rows("prompts 0-3 stacked", hs, ls, hs.length / h, true));
            }
        }
        MoeBackendRegistry registry = MoeBackendRegistry.load(getClass().getClassLoader());
        KernelContext gpuContext = new KernelContext(ModelRole.TARGET, Cuda.detectDevice(), false);
        KernelContext cpuContext = new KernelContext(ModelRole.TARGET, DeviceInfo.cpu("test"), false);
        Map<String, Double> worst = new LinkedHashMap<>(), worstWgmma = new LinkedHashMap<>();
        StringBuilder table = new StringBuilder("[fp8 layer] rel = |gpu - x|_F / |x|_F; x = cpu_reference (bf16 in/out) or a variant\n");
        MoeDecoderLayout.Naming naming = ((MoeDecoderLayout) CheckpointLayout.of(cfg)).naming();
        try (Checkpoint checkpoint = Checkpoint.open(dir, CheckpointLayout.of(cfg)); Arena arena = Arena.ofShared();
             CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx)) {
            for (int l = 0; l < layers; l++) {
                MoeWeights weights = MoeWeightsFactory.build(checkpoint, naming, l, spec, arena);
                Fp8MoeVariants variants = new Fp8MoeVariants(spec, weights);
                Map<String, MoeKernel> kernels = new LinkedHashMap<>();
                try (MoeKernel reference = create(new CpuReferenceBackendProvider(), spec, cpuContext)) {
                    reference.loadWeights(weights);
                    for (String backend : List.of("flashinfer_trtllm", "triton")) {
                        MoeBackendProvider provider = registry.find(backend).orElseThrow();
                        if (!provider.check(spec, gpuContext.device()).isEligible()) continue;
                        MoeKernel kernel = create(provider, spec, gpuContext);
                        kernel.loadWeights(weights);
                        kernels.put(backend, kernel);
                    }
                    Assumptions.assumeFalse(kernels.isEmpty(), "no GPU FP8 MoE backend can run " + spec.describe() + " here");
                    for (Rows rows : perLayer.get(l)) {
                        float[] ref = hostForward(reference, arena, rows, h, e);
                        float[][] variantOut = new float[Fp8MoeVariants.ALL.length][];
                        for (int v = 0; v < variantOut.length; v++) {
                            variantOut[v] = variants.forward(Fp8MoeVariants.ALL[v], rows.hidden(), rows.logits(), rows.m());
                        }
                        Map<String, float[]> gpuOut = new LinkedHashMap<>();
                        for (var k : kernels.entrySet()) gpuOut.put(k.getKey(), deviceForward(ctx, stream, k.getValue(), arena, rows, h, e));
                        table.append(String.format("layer %d, %s (M=%d): cpu_reference vs variant '%s' rel %.2e%n", l, rows.name(), rows.m(),
                                Fp8MoeVariants.CONTRACT.name(), Fp8MoeVariants.relError(ref, variantOut[0])));
                        for (var g : gpuOut.entrySet()) {
                            double rel = Fp8MoeVariants.relError(g.getValue(), ref);
                            (rows.wgmmaSized() ? worstWgmma : worst).merge(g.getKey(), rel, Math::max);
                            table.append(String.format("  %-17s vs cpu_reference: rel %.2e, max|diff| %.3e;", g.getKey(), rel,
                                    Fp8MoeVariants.maxAbs(g.getValue(), ref)));
                            for (int v = 0; v < variantOut.length; v++) {
                                table.append(String.format(" [%s] %.2e", Fp8MoeVariants.ALL[v].name(),
                                        Fp8MoeVariants.relError(g.getValue(), variantOut[v])));
                            }
                            table.append('\n');
                        }
                        if (gpuOut.size() == 2) {
                            var it = gpuOut.values().iterator();
                            table.append(String.format("  flashinfer_trtllm vs triton: rel %.2e%n", Fp8MoeVariants.relError(it.next(), it.next())));
                        }
                    }
                } finally {
                    kernels.values().forEach(MoeKernel::close);
                }
            }
        }
        System.out.print(table);
        System.out.println("[fp8 layer] worst rel vs cpu_reference, engine-sized calls: " + worst + "; stacked (wgmma-sized): " + worstWgmma);
        for (var w : worst.entrySet()) {
            assertTrue(w.getValue() <= LAYER_REL_BOUND, w.getKey() + " differs from cpu_reference FP8_BLOCK_128 by " + w.getValue()
                    + " relative on one layer (bound " + LAYER_REL_BOUND + "); the table above says which rounding it does differently");
        }
        for (var w : worstWgmma.entrySet()) {
            assertTrue(w.getValue() <= KIT_FP8_BOUND, w.getKey() + " (stacked rows) differs from cpu_reference by " + w.getValue());
        }
    }

    @SuppressWarnings("unchecked")
    private static List<float[]>[] newLists(int n) {
        List<float[]>[] lists = new List[n];
        for (int i = 0; i < n; i++) lists[i] = new ArrayList<>();
        return lists;
    }

    private static MoeKernel create(MoeBackendProvider provider, MoeLayerSpec spec, KernelContext context) {
        try {
            return provider.create(spec, context);
        } catch (MoeKernelUnavailableException ex) {
            throw new AssertionError(provider.name() + " cannot create " + spec.describe() + ": " + ex.getMessage(), ex);
        }
    }

    /** cpu_reference with the GPU kernels' I/O: BF16 hidden in, BF16 out. */
    private static float[] hostForward(MoeKernel kernel, Arena arena, Rows rows, int h, int e) {
        Tensor out = HostTensors.allocate(arena, DType.BF16, rows.m(), h);
        kernel.forward(HostTensors.fromFloats(arena, DType.BF16, rows.hidden(), rows.m(), h),
                HostTensors.fromFloats(arena, DType.F32, rows.logits(), rows.m(), e), out, 0L);
        return HostTensors.toFloats(out);
    }

    private static float[] deviceForward(CudaContext ctx, CudaStream stream, MoeKernel kernel, Arena arena, Rows rows, int h, int e) {
        Tensor hidden = HostTensors.fromFloats(arena, DType.BF16, rows.hidden(), rows.m(), h);
        Tensor logits = HostTensors.fromFloats(arena, DType.F32, rows.logits(), rows.m(), e);
        Tensor out = HostTensors.allocate(arena, DType.BF16, rows.m(), h);
        try (DeviceBuffer dh = upload(ctx, hidden); DeviceBuffer dl = upload(ctx, logits);
             DeviceBuffer dout = DeviceBuffer.alloc(ctx, out.byteSize())) {
            kernel.forward(dh.asTensor(DType.BF16, rows.m(), h), dl.asTensor(DType.F32, rows.m(), e), dout.asTensor(DType.BF16, rows.m(), h),
                    stream.handle());
            stream.synchronize();
            dout.copyTo(out.data().asSlice(0, out.byteSize()));
        }
        return HostTensors.toFloats(out);
    }

    private static DeviceBuffer upload(CudaContext ctx, Tensor host) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, host.byteSize());
        b.copyFrom(host.data().asSlice(0, host.byteSize()));
        return b;
    }
}
