package dev.moespec.engine.bench;

import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.CudaFunction;
import dev.moespec.cuda.CudaModule;
import dev.moespec.cuda.CudaStream;
import dev.moespec.cuda.DeviceBuffer;
import dev.moespec.cuda.Dim3;
import dev.moespec.cuda.KernelArgs;

/**
 * The L2 flush before each timed repetition: a write of the flush buffer (at least twice the L2), so that nothing the
 * previous repetition cached survives, then a read of it ({@code bench_l2_read} in the engine's kernels), so that the
 * dirty lines the write left in L2 are written back before the start event. Without the read, every line the timed
 * stage brings in first costs the write-back of a dirty line: about 50 MB on an H100, 17 µs at 3 TB/s, charged to the
 * kernel under test. Without the engine's kernels (a build without nvcc), or with {@code -D}{@value #WRITE_ONLY_PROPERTY}
 * {@code =true} (to compare with earlier numbers), the flush is the write alone.
 */
final class L2Flush {
    /** Leaves the read-back out: the flush of the benchmarks before 2026-11-27. */
    static final String WRITE_ONLY_PROPERTY = "moespec.bench.writeOnlyFlush";
    private static final String ENGINE_KERNELS = "moespec-engine";

    private final DeviceBuffer buffer;
    private final CudaFunction read; // null: write-only

    private L2Flush(DeviceBuffer buffer, CudaFunction read) {
        this.buffer = buffer;
        this.read = read;
    }

    /** Allocates the buffer; the module (if loaded) belongs to {@code ctx} and closes with it. */
    static L2Flush open(CudaContext ctx, long bytes) {
        DeviceBuffer buffer = DeviceBuffer.alloc(ctx, bytes);
        CudaFunction read = null;
        ClassLoader loader = L2Flush.class.getClassLoader();
        if (!Boolean.getBoolean(WRITE_ONLY_PROPERTY) && CudaModule.hasKernels(loader, ENGINE_KERNELS)) {
            read = CudaModule.fromResource(ctx, loader, CudaModule.kernelResource(ENGINE_KERNELS)).function("bench_l2_read");
        }
        return new L2Flush(buffer, read);
    }

    /** Queues the flush for repetition {@code rep}: the write on the legacy stream, the read on {@code stream}. */
    void run(int rep, CudaStream stream) {
        buffer.fill((byte) rep);
        if (read != null) {
            read.launch(Dim3.of(1024), Dim3.of(256), 0, stream,
                    KernelArgs.create().ptr(buffer.address()).i64(buffer.byteSize() / 16).i32(1).ptr(buffer.address()));
        }
    }

    long bytes() {
        return buffer.byteSize();
    }

    /** How the table states the flush. */
    String describe() {
        return (bytes() >> 20) + " MiB written" + (read != null ? ", then read back so that L2 holds no dirty line" : ", write only");
    }
}
