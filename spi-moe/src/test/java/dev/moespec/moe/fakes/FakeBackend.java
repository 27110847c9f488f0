package dev.moespec.moe.fakes;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;

import java.util.function.BiFunction;

/** A backend whose eligibility rule is a lambda, for registry and resolver tests; it never makes kernels. */
public class FakeBackend implements MoeBackendProvider {
    private final String name;
    private final BiFunction<MoeLayerSpec, DeviceInfo, Eligibility> rule;

    public FakeBackend(String name, BiFunction<MoeLayerSpec, DeviceInfo, Eligibility> rule) {
        this.name = name;
        this.rule = rule;
    }

    /** Eligible for everything. */
    public static FakeBackend eligible(String name) {
        return new FakeBackend(name, (l, d) -> Eligibility.eligible());
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
        return rule.apply(layer, device);
    }

    @Override
    public MoeKernel create(MoeLayerSpec layer, KernelContext context) throws MoeKernelUnavailableException {
        throw new MoeKernelUnavailableException(name, Eligibility.rejected(Eligibility.Reason.NOT_IMPLEMENTED, "a test fake makes no kernels"));
    }
}
