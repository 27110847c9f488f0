package dev.moespec.engine.bench;

import dev.moespec.api.config.QuantScheme;
import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.tensor.HostTensors;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.moe.Eligibility;
import dev.moespec.moe.KernelContext;
import dev.moespec.moe.MoeBackendProvider;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.MoeKernelUnavailableException;
import dev.moespec.moe.MoeLayerSpec;
import dev.moespec.moe.MoeWeights;
import dev.moespec.moe.StagedMoeKernel;
import dev.moespec.moe.reference.CpuReferenceKernel;

import java.lang.foreign.Arena;

/** Backends for the bench's own tests: each exercises one path of the harness. */
final class TestProviders {
    private TestProviders() {}

    /** Host backend named {@code name} whose kernels delegate to cpu_reference, optionally staged or broken. */
    static MoeBackendProvider host(String name, Mode mode) {
        return new MoeBackendProvider() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
                if (mode == Mode.BF16_ONLY && layer.quant() != QuantScheme.BF16) {
                    return Eligibility.rejected(Eligibility.Reason.UNSUPPORTED_QUANTIZATION, name + " serves bf16 only");
                }
                return Eligibility.eligible();
            }

            @Override
            public MoeKernel create(MoeLayerSpec layer, KernelContext context) throws MoeKernelUnavailableException {
                if (mode == Mode.REFUSES) {
                    throw new MoeKernelUnavailableException(name, Eligibility.rejected(Eligibility.Reason.NOT_IMPLEMENTED,
                            name + "'s kernels are not written"));
                }
                return mode == Mode.STAGED ? new Staged(name, layer) : new Plain(name, layer, mode == Mode.HALF_WRITES);
            }
        };
    }

    /** A GPU-only backend: rejects every CPU device with NO_DEVICE. */
    static MoeBackendProvider gpuOnly(String name) {
        return new MoeBackendProvider() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Eligibility check(MoeLayerSpec layer, DeviceInfo device) {
                return device.isCuda() ? Eligibility.eligible()
                        : Eligibility.rejected(Eligibility.Reason.NO_DEVICE, name + " runs on CUDA GPUs only");
            }

            @Override
            public MoeKernel create(MoeLayerSpec layer, KernelContext context) {
                throw new AssertionError("never created on a CPU");
            }
        };
    }

    enum Mode { PLAIN, STAGED, HALF_WRITES, BF16_ONLY, REFUSES }

    private static final class Plain implements MoeKernel {
        private final String name;
        private final CpuReferenceKernel ref;
        private final boolean halfWrites;

        Plain(String name, MoeLayerSpec layer, boolean halfWrites) {
            this.name = name;
            this.ref = new CpuReferenceKernel(layer);
            this.halfWrites = halfWrites;
        }

        @Override
        public String backend() {
            return name;
        }

        @Override
        public MoeLayerSpec layer() {
            return ref.layer();
        }

        @Override
        public void loadWeights(MoeWeights weights) {
            ref.loadWeights(weights);
        }

        @Override
        public void forward(Tensor hidden, Tensor routerLogits, Tensor out, long stream) {
            if (!halfWrites) {
                ref.forward(hidden, routerLogits, out, stream);
                return;
            }
            // a broken kernel: computes into scratch and copies back only the first half of the output
            try (Arena a = Arena.ofConfined()) {
                Tensor scratch = HostTensors.allocate(a, out.dtype(), out.shape());
                ref.forward(hidden, routerLogits, scratch, stream);
                for (long k = 0; k < out.elementCount() / 2; k++) HostTensors.set(out, k, HostTensors.get(scratch, k));
            }
        }

        @Override
        public void close() {
            ref.close();
        }
    }

    /** route() keeps the logits, experts() runs the reference with them: the staged path of the harness. */
    static final class Staged implements StagedMoeKernel {
        private final String name;
        private final CpuReferenceKernel ref;
        private Tensor routed;
        int routeCalls;
        int expertCalls;

        Staged(String name, MoeLayerSpec layer) {
            this.name = name;
            this.ref = new CpuReferenceKernel(layer);
        }

        @Override
        public String backend() {
            return name;
        }

        @Override
        public MoeLayerSpec layer() {
            return ref.layer();
        }

        @Override
        public void loadWeights(MoeWeights weights) {
            ref.loadWeights(weights);
        }

        @Override
        public void route(Tensor routerLogits, long stream) {
            routeCalls++;
            routed = routerLogits;
        }

        @Override
        public void experts(Tensor hidden, Tensor out, long stream) {
            expertCalls++;
            if (routed == null || routed.dim(0) != hidden.dim(0)) {
                throw new IllegalStateException("experts() without a route() of the same M");
            }
            ref.forward(hidden, routed, out, stream);
        }

        @Override
        public void close() {
            ref.close();
        }
    }
}
