package dev.moespec.moe.reference;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;

/**
 * {@code cpu_reference}: the fp32 host implementation. It is the numerical oracle of the conformance kit and the
 * backend used where no GPU is usable; it runs every quantization on any device (its tensors live on the host).
 */
public final class CpuReferenceBackendProvider implements MoeBackendProvider {
    public static final String NAME = "cpu_reference";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "fp32 CPU reference kernel: the conformance oracle and the fallback where no GPU is usable; "
                + "runs every quantization on any device (host tensors, slow)";
    }

    @Override
    public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
        return ExpertRouter.problem(layer)
                .<Eligibility>map(why -> Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_ROUTING, why))
                .orElse(Eligibility.eligible());
    }

    @Override
    public MoeKernel create(MoeLayerSpec layer, KernelContext context) throws MoeKernelUnavailableException {
        if (check(layer, context.device()) instanceof Eligibility.Rejected r) {
            throw new MoeKernelUnavailableException(NAME, r);
        }
        return new CpuReferenceKernel(layer);
    }
}
