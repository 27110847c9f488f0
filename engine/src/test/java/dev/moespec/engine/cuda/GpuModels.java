package dev.moespec.engine.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.cuda.Cuda;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.loader.DemoModels;
import dev.moespec.engine.model.MoeKernelSource;
import dev.moespec.engine.moe.MoeLayerSpecs;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.registry.MoeBackendRegistry;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/** GPU test helpers: golden.json, and CUDA runners whose MoE layers run on a named backend with a chosen scheme. */
final class GpuModels {
    static final long KV_BYTES = 64L << 20;
    static final JsonNode GOLDEN;

    static {
        try {
            GOLDEN = new ObjectMapper().readTree(Files.readString(DemoModels.dir().resolve("golden.json")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private GpuModels() {}

    static void assumeGpuRunner() {
        Assumptions.assumeTrue(CudaRunners.unavailableReason().isEmpty(),
                () -> "CUDA runner unavailable: " + CudaRunners.unavailableReason().orElse(""));
    }

    /** The input ids of golden.json's prompt {@code i}. */
    static int[] goldenIds(int i) {
        return ints(GOLDEN.path("prompts").get(i).path("input_ids"));
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Top-1 minus top-2 logit. */
    static float margin(float[] v) {
        int top = argmax(v);
        float second = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < v.length; i++) if (i != top) second = Math.max(second, v[i]);
        return v[top] - second;
    }

    /** Max |a - b| over every logit of every row. */
    static double maxAbsDiff(float[][] a, float[][] b) {
        double worst = 0;
        for (int t = 0; t < a.length; t++) for (int v = 0; v < a[t].length; v++) worst = Math.max(worst, Math.abs(a[t][v] - b[t][v]));
        return worst;
    }

    /** Per row: max |a - b| over that row's logits. */
    static double[] perRowMaxDiff(float[][] a, float[][] b) {
        double[] out = new double[a.length];
        for (int t = 0; t < a.length; t++) for (int v = 0; v < a[t].length; v++) out[t] = Math.max(out[t], Math.abs(a[t][v] - b[t][v]));
        return out;
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** The prompt's input ids followed by the first 47 golden tokens of {@code model}: teacher forcing over all 48 steps. */
    static int[] forcedSequence(JsonNode prompt, String model) {
        int[] ids = ints(prompt.path("input_ids"));
        int[] expected = ints(prompt.path(model).path("tokens"));
        int[] forced = new int[ids.length + expected.length - 1];
        System.arraycopy(ids, 0, forced, 0, ids.length);
        System.arraycopy(expected, 0, forced, ids.length, expected.length - 1);
        return forced;
    }

    /** The CPU path with fp32 MoE math ({@code MoeExecution.exactFp32}): golden.json's own math (FORMAT.md §7). */
    static dev.moespec.engine.model.CpuMoeModel exact(Path dir) {
        ModelConfig c = ModelConfig.load(dir);
        MoeLayerSpec spec = MoeLayerSpecs.of(c, c.quantization(), MoeLayerSpecs.DEFAULT_MAX_TOKENS).orElseThrow();
        return new dev.moespec.engine.model.CpuMoeModel(Checkpoint.open(dir, CheckpointLayout.of(c)), spec,
                dev.moespec.engine.model.MoeExecution.exactFp32(spec), KV_BYTES);
    }

    /** Logits of every position of {@code tokens} (one teacher-forced step of a fresh sequence). */
    static float[][] teacherForced(dev.moespec.engine.model.ModelRunner runner, int[] tokens) {
        int seq = runner.open(tokens.length);
        dev.moespec.engine.model.StepOutput out = runner.step(java.util.List.of(new dev.moespec.engine.model.SequenceChunk(seq, tokens, true)));
        runner.release(seq);
        float[][] logits = new float[tokens.length][];
        for (int t = 0; t < tokens.length; t++) logits[t] = out.logits(0, t);
        return logits;
    }

    /**
     * A runner over {@code dir} whose MoE layers run on {@code backend} with weights in {@code scheme} (the FP8
     * target dequantised to BF16 for a BF16 backend). Skips the test when that backend cannot create the kernel
     * here (e.g. its kernels are not merged yet), saying why.
     */
    static Runner open(Path dir, String backend, QuantScheme scheme) {
        ModelConfig c = ModelConfig.load(dir);
        MoeLayerSpec spec = MoeLayerSpecs.of(c, c.quantization(), MoeLayerSpecs.DEFAULT_MAX_TOKENS).orElseThrow().withQuant(scheme);
        MoeBackendProvider provider = MoeBackendRegistry.load(GpuModels.class.getClassLoader()).find(backend)
                .orElseThrow(() -> new AssertionError("no MoE backend '" + backend + "' on the test classpath"));
        KernelContext context = new KernelContext(ModelRole.TARGET, Cuda.detectDevice(), false);
        MoeKernel probe;
        try {
            probe = provider.create(spec, context);
        } catch (MoeKernelUnavailableException e) {
            Assumptions.abort(backend + " cannot run " + spec.describe() + " here: " + e.getMessage());
            throw new AssertionError(e);
        }
        probe.close();
        Map<Integer, MoeKernel> kernels = new HashMap<>();
        MoeKernelSource source = new MoeKernelSource() {
            @Override
            public MoeKernel kernel(int layer, int tokens, Function<MoeLayerSpec, MoeWeights> weights) {
                return kernels.computeIfAbsent(layer, l -> {
                    try {
                        MoeKernel k = provider.create(spec, context);
                        k.loadWeights(weights.apply(spec));
                        return k;
                    } catch (MoeKernelUnavailableException e) {
                        throw new AssertionError(e);
                    }
                });
            }

            @Override
            public String describe() {
                return backend;
            }
        };
        Checkpoint checkpoint = Checkpoint.open(dir, CheckpointLayout.of(c));
        return new Runner(new CudaMoeModel(checkpoint, source, 0, KV_BYTES), kernels);
    }

    /** The CPU path with {@code cpu_reference} MoE kernels in {@code scheme}: the oracle with the same MoE rounding. */
    static dev.moespec.engine.model.CpuMoeModel cpuReference(Path dir, QuantScheme scheme) {
        ModelConfig c = ModelConfig.load(dir);
        MoeLayerSpec spec = MoeLayerSpecs.of(c, c.quantization(), MoeLayerSpecs.DEFAULT_MAX_TOKENS).orElseThrow().withQuant(scheme);
        var provider = new dev.moespec.moe.reference.CpuReferenceBackendProvider();
        KernelContext context = new KernelContext(ModelRole.TARGET, dev.moespec.api.device.DeviceInfo.cpu("test"), false);
        Map<Integer, MoeKernel> kernels = new HashMap<>();
        MoeKernelSource source = new MoeKernelSource() {
            @Override
            public MoeKernel kernel(int layer, int tokens, Function<MoeLayerSpec, MoeWeights> weights) {
                return kernels.computeIfAbsent(layer, l -> {
                    try {
                        MoeKernel k = provider.create(spec, context);
                        k.loadWeights(weights.apply(spec));
                        return k;
                    } catch (MoeKernelUnavailableException e) {
                        throw new AssertionError(e);
                    }
                });
            }

            @Override
            public String describe() {
                return provider.name();
            }
        };
        return new dev.moespec.engine.model.CpuMoeModel(Checkpoint.open(dir, CheckpointLayout.of(c)), spec, source, KV_BYTES);
    }

    /** The runner and the MoE kernels it was given (closed with it). */
    record Runner(CudaMoeModel model, Map<Integer, MoeKernel> kernels) implements AutoCloseable {
        @Override
        public void close() {
            model.close();
            kernels.values().forEach(MoeKernel::close);
        }
    }
}
