package dev.moespec.engine.model;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.config.QuantScheme;
import dev.moespec.engine.loader.Checkpoint;
import dev.moespec.engine.loader.CheckpointLayout;
import dev.moespec.engine.moe.MoeLayerSpecs;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import dev.moespec.moe.KernelContext;
import dev.moespec.api.config.ModelRole;
import dev.moespec.api.device.DeviceInfo;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/** Builds CPU runners over a checkpoint for tests: exact fp32 oracle, or cpu_reference with a chosen MoE scheme. */
final class Models {
    static final long KV_BYTES = 8L << 20;

    private Models() {}

    static MoeLayerSpec spec(Path dir) {
        ModelConfig c = ModelConfig.load(dir);
        return MoeLayerSpecs.of(c, c.quantization(), MoeLayerSpecs.DEFAULT_MAX_TOKENS).orElseThrow();
    }

    static CpuMoeModel exact(Path dir) {
        return exact(dir, KV_BYTES);
    }

    static CpuMoeModel exact(Path dir, long kvBytes) {
        Checkpoint c = Checkpoint.open(dir, CheckpointLayout.of(ModelConfig.load(dir)));
        MoeLayerSpec spec = spec(dir);
        return new CpuMoeModel(c, spec, MoeExecution.exactFp32(spec), kvBytes);
    }

    /** cpu_reference kernels with MoE weights in {@code scheme} (the checkpoint's own, or BF16 = dequantised). */
    static CpuMoeModel cpuReference(Path dir, QuantScheme scheme) {
        Checkpoint c = Checkpoint.open(dir, CheckpointLayout.of(ModelConfig.load(dir)));
        MoeLayerSpec spec = spec(dir).withQuant(scheme);
        var provider = new CpuReferenceBackendProvider();
        Map<Integer, MoeKernel> kernels = new HashMap<>();
        MoeKernelSource source = new MoeKernelSource() {
            @Override
            public MoeKernel kernel(int layer, int tokens, Function<MoeLayerSpec, MoeWeights> weights) {
                return kernels.computeIfAbsent(layer, l -> {
                    try {
                        MoeKernel k = provider.create(spec, new KernelContext(ModelRole.TARGET, DeviceInfo.cpu("test"), false));
                        k.loadWeights(weights.apply(spec));
                        return k;
                    } catch (dev.moespec.moe.MoeKernelUnavailableException e) {
                        throw new AssertionError(e);
                    }
                });
            }

            @Override
            public String describe() {
                return provider.name();
            }
        };
        return new CpuMoeModel(c, spec, source, KV_BYTES);
    }
}
