package dev.moespec.cuda;

import dev.moespec.api.device.DeviceInfo;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("gpu")
class DeviceGpuTest {

    @Test
    void deviceInfoIsSane() {
        Gpu.assumeGpu();
        var available = (CudaAvailability.Available) Cuda.available();
        assertTrue(available.driverVersion() >= 12000, "driver version " + available.driverVersion());
        for (int i = 0; i < available.devices().size(); i++) {
            DeviceInfo d = available.devices().get(i);
            assertTrue(d.isCuda());
            assertEquals(i, d.ordinal());
            assertTrue(d.sm() >= 80, "sm " + d.sm());
            assertTrue(d.name().contains("NVIDIA"), d.name());
            assertTrue(d.totalMemoryBytes() > 0);
            assertTrue(d.multiprocessors() > 0);
        }
        assertEquals(available.devices().getFirst(), Cuda.detectDevice());
    }

    @Test
    void contextReportsLimitsAndMemory() {
        Gpu.assumeGpu();
        try (CudaContext ctx = CudaContext.open(0)) {
            assertEquals(Cuda.detectDevice(), ctx.info());
            DeviceLimits limits = ctx.limits();
            assertEquals(1024, limits.maxThreadsPerBlock());
            assertTrue(limits.maxSharedMemoryPerBlockOptin() > 48 * 1024, "opt-in shared memory " + limits.maxSharedMemoryPerBlockOptin());
            assertTrue(limits.l2CacheBytes() > 0);
            MemInfo mem = ctx.memInfo();
            assertTrue(mem.freeBytes() > 0);
            assertTrue(mem.totalBytes() <= ctx.info().totalMemoryBytes() + (1L << 30), mem + " vs " + ctx.info().describe());
            ctx.synchronize();
        }
    }

    @Test
    void unknownOrdinalIsRejected() {
        Gpu.assumeGpu();
        int count = ((CudaAvailability.Available) Cuda.available()).devices().size();
        var e = assertThrows(IllegalArgumentException.class, () -> CudaContext.open(count));
        assertEquals("no CUDA device with ordinal " + count + ": this machine has " + count + " (ordinals 0.." + (count - 1) + ")",
                e.getMessage());
    }

    @Test
    void closedContextRefusesWorkAndCanBeReopened() {
        Gpu.assumeGpu();
        CudaContext ctx = CudaContext.open(0);
        var staging = ctx.hostAllocator().allocate(64);
        staging.fill((byte) 7); // host memory of the context's arena, usable while it is open
        ctx.close();
        assertThrows(IllegalStateException.class, () -> staging.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> ctx.hostAllocator().allocate(8));
        ctx.close(); // idempotent
        var e = assertThrows(IllegalStateException.class, ctx::synchronize);
        assertTrue(e.getMessage().startsWith("CudaContext of device 0 ("), e.getMessage());
        assertTrue(e.getMessage().endsWith(") is closed"), e.getMessage());
        try (CudaContext again = CudaContext.open(0); DeviceBuffer b = DeviceBuffer.alloc(again, 64)) {
            b.fill((byte) 1);
            again.synchronize();
        }
    }
}
