package dev.moespec.backend.triton;

import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.conformance.KernelHarness;

/**
 * The conformance kit's harness for a device kernel: uploads hidden, logits and the (poisoned) out, calls forward
 * on a stream of its own, synchronises and downloads out — also when forward throws, so that the kit sees that a
 * refused call wrote nothing.
 */
final class DeviceHarness implements KernelHarness {

    @Override
    public void forward(MoeKernel kernel, Tensor hidden, Tensor routerLogits, Tensor out) {
        try (CudaContext ctx = CudaContext.open(0);
             CudaStream stream = CudaStream.create(ctx);
             DeviceBuffer h = upload(ctx, hidden);
             DeviceBuffer l = upload(ctx, routerLogits);
             DeviceBuffer o = upload(ctx, out)) {
            try {
                kernel.forward(h.asTensor(hidden.dtype(), hidden.shape()), l.asTensor(routerLogits.dtype(), routerLogits.shape()),
                        o.asTensor(out.dtype(), out.shape()), stream.handle());
            } finally {
                stream.synchronize();
                if (out.byteSize() > 0) o.copyTo(out.data().asSlice(0, out.byteSize()));
            }
        }
    }

    static DeviceBuffer upload(CudaContext ctx, Tensor host) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, Math.max(16, host.byteSize()));
        if (host.byteSize() > 0) b.copyFrom(host.data().asSlice(0, host.byteSize()));
        return b;
    }
}
