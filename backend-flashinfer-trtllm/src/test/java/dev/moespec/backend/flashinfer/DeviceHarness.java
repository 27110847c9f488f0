package dev.moespec.backend.flashinfer;

import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.conformance.KernelHarness;

/**
 * The conformance kit's {@link KernelHarness} for a device kernel: uploads {@code hidden}, {@code routerLogits} and
 * the poisoned {@code out}, calls {@code forward} on a stream, synchronises, and downloads {@code out} — in a
 * {@code finally}, so that a refused call is seen to have written nothing.
 */
final class DeviceHarness implements KernelHarness {
    private final int ordinal;

    DeviceHarness(int ordinal) {
        this.ordinal = ordinal;
    }

    @Override
    public void forward(MoeKernel kernel, Tensor hidden, Tensor routerLogits, Tensor out) {
        try (CudaContext ctx = CudaContext.open(ordinal);
             DeviceBuffer h = upload(ctx, hidden); DeviceBuffer l = upload(ctx, routerLogits); DeviceBuffer o = upload(ctx, out);
             CudaStream stream = CudaStream.create(ctx)) {
            try {
                kernel.forward(onDevice(hidden, h), onDevice(routerLogits, l), onDevice(out, o), stream.handle());
                stream.synchronize();
            } finally {
                o.copyTo(out.data().asSlice(0, out.byteSize()));
            }
        }
    }

    private static DeviceBuffer upload(CudaContext ctx, Tensor host) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, host.byteSize());
        b.copyFrom(host.data().asSlice(0, host.byteSize()));
        return b;
    }

    private static Tensor onDevice(Tensor host, DeviceBuffer b) {
        return b.byteSize() == 0 ? Tensor.device(host.dtype(), 0L, host.shape()) : b.asTensor(host.dtype(), host.shape());
    }
}
