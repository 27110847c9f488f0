package dev.moespec.moe.resolve;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.MoeAutoPolicy.Preference;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.Phase;
import dev.moespec.moe.Routing;
import dev.moespec.moe.fakes.FakeBackend;
import dev.moespec.moe.fakes.FakePolicy;
import dev.moespec.moe.reference.CpuReferenceBackendProvider;
import dev.moespec.moe.registry.MoeBackendRegistry;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** A registry shaped like the real one: triton (any quant, GPU), flashinfer_trtllm (fp8_block_128, sm_90+), cpu_reference. */
final class Fixtures {
    private Fixtures() {}

    static final MoeLayerSpec BF16_LAYER = new MoeLayerSpec(16, 4, 256, 128, MoeLayerSpec.Activation.SILU,
            new Routing.SoftmaxTopK(true), QuantScheme.BF16, 256);
    static final MoeLayerSpec FP8_LAYER = BF16_LAYER.withQuant(QuantScheme.FP8_BLOCK_128);

    static final FakeBackend TRITON = new FakeBackend("triton", (layer, device) -> device.isCuda() ? Eligibility.eligible()
            : Eligibility.rejected(Eligibility.Reason.NO_DEVICE, "no CUDA device"));

    static final FakeBackend TRTLLM = new FakeBackend("flashinfer_trtllm", (layer, device) -> {
        if (!device.isCuda()) return Eligibility.rejected(Eligibility.Reason.NO_DEVICE, "no CUDA device");
        if (layer.quant() != QuantScheme.FP8_BLOCK_128) {
            return Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_QUANTIZATION, "serves fp8_block_128 only, got " + layer.quant().cliName());
        }
        return Eligibility.eligible();
    });

    static final FakePolicy POLICY = new FakePolicy("heuristic-table", Map.of(
            Phase.DECODE, List.of(new Preference("flashinfer_trtllm", "fp8 decode: tensor cores"),
                    new Preference("deep_gemm", "not installed here"), new Preference("triton", "portable")),
            Phase.PREFILL, List.of(new Preference("triton", "prefill: grouped GEMM"), new Preference("flashinfer_trtllm", "second"))));

    static MoeBackendRegistry registry(Set<String> excluded) {
        return MoeBackendRegistry.of(List.of(TRITON, TRTLLM, new CpuReferenceBackendProvider()), List.of(POLICY), excluded);
    }

    static MoeBackendResolver resolver() {
        return new MoeBackendResolver(registry(Set.of()));
    }
}
