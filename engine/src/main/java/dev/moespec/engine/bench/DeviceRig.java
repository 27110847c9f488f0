package dev.moespec.engine.bench;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.moe.MoeKernel;
import dev.moespec.moe.StagedMoeKernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * What GPU rows share: the device's primary context, one stream, the L2-flush buffer (twice the L2, at least
 * {@code minFlushBytes}) and the timer. Opened when the first GPU kernel runs; closing it frees everything.
 */
final class DeviceRig implements AutoCloseable {
    private final CudaContext ctx;
    private final CudaStream stream;
    private final L2Flush flush;
    private final DeviceStageTimer timer;

    private DeviceRig(CudaContext ctx, CudaStream stream, L2Flush flush, DeviceStageTimer timer) {
        this.ctx = ctx;
        this.stream = stream;
        this.flush = flush;
        this.timer = timer;
    }

    static DeviceRig open(int ordinal, boolean graphs, int warmup, int reps, long minFlushBytes) {
        CudaContext ctx = CudaContext.open(ordinal);
        try {
            CudaStream stream = CudaStream.create(ctx);
            L2Flush flush = L2Flush.open(ctx, Math.max(2L * ctx.limits().l2CacheBytes(), minFlushBytes));
            return new DeviceRig(ctx, stream, flush, new DeviceStageTimer(stream, flush, graphs, warmup, reps));
        } catch (RuntimeException e) {
            ctx.close();
            throw e;
        }
    }

    long flushBytes() {
        return flush.bytes();
    }

    String flushDescription() {
        return flush.describe();
    }

    /** Device copies of one shape's inputs, and an output buffer, for {@code maxTokens} rows. */
    record DeviceInputs(DeviceBuffer hidden, DeviceBuffer logits, DeviceBuffer out, long hiddenSize, long numExperts)
            implements AutoCloseable {
        @Override
        public void close() {
            hidden.close();
            logits.close();
            out.close();
        }
    }

    DeviceInputs upload(MoeBench.HostInputs host) {
        DeviceBuffer hidden = DeviceBuffer.alloc(ctx, host.hidden().byteSize());
        DeviceBuffer logits = DeviceBuffer.alloc(ctx, host.logits().byteSize());
        DeviceBuffer out = DeviceBuffer.alloc(ctx, host.hidden().byteSize());
        hidden.copyFrom(host.hidden().data().asSlice(0, host.hidden().byteSize()));
        logits.copyFrom(host.logits().data().asSlice(0, host.logits().byteSize()));
        return new DeviceInputs(hidden, logits, out, host.hidden().dim(1), host.logits().dim(1));
    }

    RowRunner runner(ShapeInputs inputs) {
        return new DeviceRowRunner(this, inputs.device(this));
    }

    /** A row on a GPU kernel: device tensors over the shape's buffers, CUDA-event timing on the rig's stream. */
    record DeviceRowRunner(DeviceRig rig, DeviceInputs buffers) implements RowRunner {
        @Override
        public Result run(MoeKernel kernel, int tokens) {
            long s = rig.stream.handle();
            Tensor hidden = buffers.hidden().asTensor(DType.BF16, tokens, buffers.hiddenSize());
            Tensor logits = buffers.logits().asTensor(DType.F32, tokens, buffers.numExperts());
            Tensor out = buffers.out().asTensor(DType.BF16, tokens, buffers.hiddenSize());
            buffers.out().fill((byte) 0xFF); // bf16 0xFFFF is NaN: an element the kernel does not write shows up
            kernel.forward(hidden, logits, out, s);
            rig.stream.synchronize();
            float[] output;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(out.byteSize());
                buffers.out().copyTo(host);
                output = MoeBench.bf16ToFloats(host, (int) out.elementCount());
            }
            if (kernel instanceof StagedMoeKernel staged) {
                Timing align = rig.timer.time(() -> staged.route(logits, s));
                staged.route(logits, s); // the experts stage reads the routing of this M
                Timing main = rig.timer.time(() -> staged.experts(hidden, out, s));
                rig.stream.synchronize();
                return new Result(output, main, Optional.of(align), true);
            }
            Timing main = rig.timer.time(() -> kernel.forward(hidden, logits, out, s));
            rig.stream.synchronize();
            return new Result(output, main, Optional.empty(), false);
        }
    }

    @Override
    public void close() {
        ctx.close(); // closes the stream, the events, the flush buffer and any inputs still open
    }
}
