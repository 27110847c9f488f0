package dev.moespec.cuda;

import dev.moespec.api.tensor.DType;
import dev.moespec.api.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("gpu")
class DeviceBufferGpuTest {
    private CudaContext ctx;

    @BeforeEach
    void open() {
        Gpu.assumeGpu();
        ctx = CudaContext.open(0);
    }

    @AfterEach
    void close() {
        if (ctx != null) ctx.close();
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void hostToDeviceToHostRoundTripsNativeAndHeapMemory() {
        int n = (1 << 20) + 3; // odd size: no alignment assumptions
        byte[] data = randomBytes(n, 1);
        try (Arena arena = Arena.ofConfined(); DeviceBuffer buf = DeviceBuffer.alloc(ctx, n)) {
            MemorySegment host = arena.allocate(n).copyFrom(MemorySegment.ofArray(data));
            buf.copyFrom(host);
            MemorySegment back = arena.allocate(n);
            buf.copyTo(back);
            assertArrayEquals(data, back.toArray(JAVA_BYTE));

            byte[] heapBack = new byte[n];
            buf.copyFrom(MemorySegment.ofArray(randomBytes(n, 2)));
            buf.copyTo(MemorySegment.ofArray(heapBack));
            assertArrayEquals(randomBytes(n, 2), heapBack);
        }
    }

    @Test
    void deviceToDeviceCopyAndFill() {
        int n = 4096;
        byte[] data = randomBytes(n, 3);
        try (DeviceBuffer a = DeviceBuffer.alloc(ctx, n); DeviceBuffer b = DeviceBuffer.alloc(ctx, n)) {
            a.copyFrom(MemorySegment.ofArray(data));
            b.copyFrom(a);
            byte[] back = new byte[n];
            b.copyTo(MemorySegment.ofArray(back));
            assertArrayEquals(data, back);

            b.fill((byte) 0x5a);
            b.copyTo(MemorySegment.ofArray(back));
            for (byte v : back) assertEquals((byte) 0x5a, v);
        }
    }

    @Test
    void asyncCopiesOnAStreamRoundTrip() {
        int n = 1 << 16;
        byte[] data = randomBytes(n, 4);
        try (Arena arena = Arena.ofConfined(); DeviceBuffer buf = DeviceBuffer.alloc(ctx, n); CudaStream stream = CudaStream.create(ctx)) {
            MemorySegment src = arena.allocate(n).copyFrom(MemorySegment.ofArray(data));
            MemorySegment dst = arena.allocate(n);
            buf.copyFromAsync(src, stream);
            buf.copyToAsync(dst, stream);
            stream.synchronize();
            assertArrayEquals(data, dst.toArray(JAVA_BYTE));
            var e = assertThrows(IllegalArgumentException.class, () -> buf.copyToAsync(MemorySegment.ofArray(new byte[n]), stream));
            assertTrue(e.getMessage().startsWith("copyToAsync needs a native host segment"), e.getMessage());
        }
    }

    @Test
    void copiesThatDoNotFitAreRejectedBeforeTheDriver() {
        try (DeviceBuffer buf = DeviceBuffer.alloc(ctx, 16)) {
            var e = assertThrows(IllegalArgumentException.class, () -> buf.copyFrom(MemorySegment.ofArray(new byte[17])));
            assertEquals("host segment of 17 bytes does not fit in device buffer of 16 bytes on " + ctx.describe()
                    + " (copyFrom): pass a slice of at most 16 bytes", e.getMessage());
        }
    }

    @Test
    void onePebibyteIsOutOfMemoryAndTheNextAllocationWorks() {
        long pib = 1L << 50;
        var e = assertThrows(CudaException.class, () -> DeviceBuffer.alloc(ctx, pib));
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertEquals(2, e.code());
        assertEquals("cuMemAlloc_v2", e.function());
        assertTrue(e.getMessage().startsWith("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory (allocating "
                + pib + " bytes on " + ctx.describe()), e.getMessage());
        try (DeviceBuffer ok = DeviceBuffer.alloc(ctx, 1 << 20)) {
            ok.fill((byte) 0);
            ctx.synchronize();
        }
    }

    @Test
    void closeFreesOnceAndUseAfterCloseFails() {
        DeviceBuffer buf = DeviceBuffer.alloc(ctx, 256);
        long before = ctx.memInfo().freeBytes();
        buf.close();
        buf.close(); // second close is a no-op, not a double free
        assertTrue(buf.isClosed());
        var e = assertThrows(IllegalStateException.class, buf::address);
        assertEquals("device buffer of 256 bytes on " + ctx.describe() + " is closed", e.getMessage());
        assertThrows(IllegalStateException.class, () -> buf.fill((byte) 0));
        assertTrue(ctx.memInfo().freeBytes() >= before);
    }

    @Test
    void closingTheContextClosesItsResources() {
        DeviceBuffer buf = DeviceBuffer.alloc(ctx, 1024);
        CudaStream stream = CudaStream.create(ctx);
        ctx.close();
        assertTrue(buf.isClosed());
        assertTrue(stream.isClosed());
        var e = assertThrows(IllegalStateException.class, stream::handle);
        assertTrue(e.getMessage().endsWith(" is closed (its CudaContext was closed, which closes everything made from it)"),
                e.getMessage());
        buf.close(); // still a no-op
    }

    @Test
    void asTensorViewsTheBufferAndChecksItsSize() {
        try (DeviceBuffer buf = DeviceBuffer.alloc(ctx, 4 * 64 * 32)) {
            Tensor t = buf.asTensor(DType.F32, 64, 32);
            assertEquals(Tensor.Placement.DEVICE, t.placement());
            assertEquals(buf.address(), t.data().address());
            var e = assertThrows(IllegalArgumentException.class, () -> buf.asTensor(DType.F32, 64, 33));
            assertEquals("F32[64, 33]@device needs 8448 bytes but device buffer of 8192 bytes on " + ctx.describe()
                    + " holds 8192", e.getMessage());
        }
    }

    @Test
    void zeroByteBufferNeedsNoDriverCall() {
        try (DeviceBuffer empty = DeviceBuffer.alloc(ctx, 0)) {
            assertEquals(0, empty.address());
            empty.copyFrom(MemorySegment.ofArray(new byte[0]));
            empty.fill((byte) 1);
        }
    }
}
