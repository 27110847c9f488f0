package dev.moespec.engine.cuda;

import dev.moespec.api.tensor.HostTensors;
import dev.moespec.cuda.CudaContext;
import dev.moespec.cuda.DeviceBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Device buffers a model or drafter network owns: weights uploaded once (fp32 or BF16) and zeroed scratch, each
 * returned as its device address and freed together by {@link #close}.
 */
final class DeviceArrays implements AutoCloseable {
    private final CudaContext ctx;
    private final List<DeviceBuffer> owned = new ArrayList<>();

    DeviceArrays(CudaContext ctx) {
        this.ctx = ctx;
    }

    /** {@code values} as fp32 on the device. */
    long f32(float[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * values.length, 16);
            MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
            return upload(s);
        }
    }

    /** {@code values} rounded to BF16 on the device (the GEMM operand form of the projections). */
    long bf16(float[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(2L * values.length, 16);
            for (int i = 0; i < values.length; i++) s.setAtIndex(ValueLayout.JAVA_SHORT, i, HostTensors.floatToBf16(values[i]));
            return upload(s);
        }
    }

    /** {@code values} as 32-bit integers on the device. */
    long i32(int[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * values.length, 16);
            MemorySegment.copy(values, 0, s, ValueLayout.JAVA_INT, 0, values.length);
            return upload(s);
        }
    }

    /** {@code values} as 64-bit integers on the device (a table of device addresses a kernel indexes). */
    long i64(long[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8L * values.length, 16);
            MemorySegment.copy(values, 0, s, ValueLayout.JAVA_LONG, 0, values.length);
            return upload(s);
        }
    }

    /** {@code bytes} of zeroed device memory. */
    long zeros(long bytes) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, Math.max(16, bytes));
        owned.add(b);
        b.fill((byte) 0);
        return b.address();
    }

    /** {@code parts} one after another (row-major matrices of one width stacked by rows: a fused projection). */
    static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Columns {@code [from, from + cols)} of the row-major {@code [rows, width]} matrix {@code m}, contiguous. */
    static float[] columns(float[] m, int rows, int width, int from, int cols) {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) System.arraycopy(m, r * width + from, out, r * cols, cols);
        return out;
    }

    private long upload(MemorySegment s) {
        DeviceBuffer b = DeviceBuffer.alloc(ctx, Math.max(16, s.byteSize()));
        owned.add(b);
        b.copyFrom(s);
        return b.address();
    }

    @Override
    public void close() {
        for (DeviceBuffer b : owned) b.close();
        owned.clear();
    }
}
