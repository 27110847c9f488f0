package dev.moespec.moe;

import dev.moespec.api.device.DeviceInfo;

/**
 * A MoE kernel backend, discovered with {@link java.util.ServiceLoader}: a jar lists its provider class in
 * {@code META-INF/services/dev.moespec.moe.MoeBackendProvider}. Plain Java; no DI framework is needed.
 *
 * <p>Evolvable like Jackson's {@code Module}: new hooks arrive as default methods, so a provider written
 * against an older SPI keeps compiling and running.
 */
public interface MoeBackendProvider {

    /** Unique, lower_snake name used by {@code --moe-backend} and {@code "moe_backend"} ("triton"). */
    String name();

    /** One line for {@code plan} and registry listings. */
    default String description() {
        return name();
    }

    /**
     * Whether this backend can run {@code layer} on {@code device}. Cheap and side-effect free: the resolver
     * calls it for every candidate and prints every rejection. Never throws for an unsupported layer.
     */
    Eligibility check(MoeLayerSpec layer, DeviceInfo device);

    /**
     * Creates a kernel for {@code layer}. Called only after {@link #check} returned {@link Eligibility.Eligible}.
     * Cheap: weights are handed over later with {@link MoeKernel#loadWeights}.
     *
     * @throws MoeKernelUnavailableException with a typed {@link Eligibility.Rejected} reason when the kernel
     *                                       cannot be created (kernels not built, not implemented, GPU failure)
     */
    MoeKernel create(MoeLayerSpec layer, KernelContext context) throws MoeKernelUnavailableException;
}
