package dev.moespec.examples.backend;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Routing;

/**
 * A third-party MoE backend, as small as one can be: plain Java, one services line
 * ({@code META-INF/services/dev.moespec.moe.MoeBackendProvider}), no dependency on moespec internals.
 * It serves unquantized layers with softmax routing on the CPU and refuses the rest with typed reasons.
 */
public final class NaiveCpuMoeBackendProvider implements MoeBackendProvider {
    public static final String NAME = "example_naive_cpu";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "example third-party backend: naive per-token loops on the CPU, bf16/fp16, softmax routing";
    }

    @Override
    public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
        if (device.isCuda()) {
            return Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_DEVICE,
                    NAME + " runs on the CPU only; this plan is for " + device.name());
        }
        if (layer.quant() != QuantScheme.BF16 && layer.quant() != QuantScheme.FP16) {
            return Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_QUANTIZATION,
                    NAME + " serves bf16 and fp16 weights only; this layer is " + layer.quant().cliName());
        }
        if (!(layer.routing() instanceof Routing.SoftmaxTopK)) {
            return Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_ROUTING,
                    NAME + " serves softmax top-k routing only; this layer uses " + layer.routing().describe());
        }
        return Eligibility.eligible();
    }

    @Override
    public MoeKernel create(MoeLayerSpec layer, KernelContext context) {
        return new NaiveCpuMoeKernel(layer);
    }
}
