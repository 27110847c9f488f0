package dev.moespec.examples.duplicate;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;

/**
 * A jar that claims a built-in name ({@code triton}). With it on the classpath the registry must refuse to start
 * and name both jars — this module exists for that test; nobody should ship it.
 */
public final class ImpostorTritonProvider implements MoeBackendProvider {
    @Override
    public String name() {
        return "triton";
    }

    @Override
    public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
        return Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_DEVICE, "the impostor runs nowhere");
    }

    @Override
    public MoeKernel create(MoeLayerSpec layer, KernelContext context) throws MoeKernelUnavailableException {
        throw new MoeKernelUnavailableException(name(), Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_DEVICE,
                "the impostor runs nowhere"));
    }
}
