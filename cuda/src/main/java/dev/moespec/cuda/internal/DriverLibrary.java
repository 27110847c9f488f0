package dev.moespec.cuda.internal;

import dev.moespec.cuda.CudaException;
import dev.moespec.cuda.MemInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Hand-written FFM downcalls into the CUDA driver API ({@code libcuda.so.1}); no JNI, no jextract.
 *
 * <p>Loaded lazily, once, by {@link #get()}: a missing library or symbol becomes a {@link DriverLoad.Missing}
 * with a reason, never an {@code UnsatisfiedLinkError}. Every method below checks the {@code CUresult} and
 * throws {@link CudaException} naming the exported function that failed.
 *
 * <p>Opaque handles ({@code CUcontext}, {@code CUmodule}, {@code CUfunction}, {@code CUstream},
 * {@code CUevent}) and {@code CUdeviceptr} travel as {@code long}: on the LP64 ABIs the driver ships for,
 * a pointer and a 64-bit integer are passed identically, and Java callers keep handles as plain numbers
 * (a stream handle crosses the MoE SPI as {@code long}). Host pointers stay {@link MemorySegment}s so the
 * linker checks that they are native memory.
 */
public final class DriverLibrary {
    /** The driver library's soname; the unversioned {@code libcuda.so} is a toolkit stub, not a driver. */
    public static final String LIBRARY = "libcuda.so.1";

    /** {@code CUdevice_attribute} values used here (cuda.h). */
    public static final int ATTR_MAX_THREADS_PER_BLOCK = 1;
    public static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    public static final int ATTR_L2_CACHE_SIZE = 38;
    public static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    /** {@code CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES}. */
    public static final int FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    private static final Linker LINKER = Linker.nativeLinker();

    // Loaded on first use of get(): class initialisation runs once and is thread-safe.
    private static final class Holder {
        static final DriverLoad LOAD = load(LIBRARY);
    }

    /** The process-wide driver binding, loaded on the first call. */
    public static DriverLoad get() {
        return Holder.LOAD;
    }

    /** Loads {@code library} and binds every function; package-private so tests can point it elsewhere. */
    static DriverLoad load(String library) {
        SymbolLookup lookup;
        try {
            // Arena.global(): the driver stays mapped for the life of the JVM, like the handles bound to it.
            lookup = SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException e) {
            return new DriverLoad.Missing(library + " not found (no NVIDIA driver on this machine)");
        } catch (IllegalCallerException e) {
            return new DriverLoad.Missing(nativeAccessDenied(library));
        }
        try {
            return new DriverLoad.Loaded(new DriverLibrary(library, lookup));
        } catch (MissingSymbolException e) {
            return new DriverLoad.Missing(library + " has no symbol " + e.getMessage()
                    + ": it is not the CUDA driver, or the driver is too old (moespec needs a CUDA 12 or newer driver)");
        } catch (IllegalCallerException e) {
            return new DriverLoad.Missing(nativeAccessDenied(library));
        }
    }

    private static String nativeAccessDenied(String library) {
        return "native access to " + library + " is denied: run java with --enable-native-access=ALL-UNNAMED"
                + " (or the name of the module holding moespec-cuda)";
    }

    private final String library;
    private final String primaryCtxReleaseName;
    private final String eventElapsedTimeName;
    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
            cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease,
            cuCtxSetCurrent, cuCtxSynchronize, cuModuleLoadData, cuModuleUnload, cuModuleGetFunction,
            cuFuncSetAttribute, cuLaunchKernel, cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD,
            cuMemsetD8, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemGetInfo, cuStreamCreate, cuStreamDestroy,
            cuStreamSynchronize, cuStreamWaitEvent, cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime,
            cuEventDestroy, cuGetErrorName, cuGetErrorString;
    // Launch with attributes (programmatic dependent launch); absent before CUDA 12, then null.
    private final MethodHandle cuLaunchKernelEx;
    // CUDA graphs: stream capture, instantiation, replay.
    private final MethodHandle cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiateWithFlags, cuGraphLaunch,
            cuGraphExecDestroy, cuGraphDestroy;

    private DriverLibrary(String library, SymbolLookup lookup) throws MissingSymbolException {
        this.library = library;
        Binder b = new Binder(lookup);
        // cuGetErrorName first: a library without it is certainly not the driver.
        cuGetErrorName = b.bind("cuGetErrorName", JAVA_INT, ADDRESS);
        cuGetErrorString = b.bind("cuGetErrorString", JAVA_INT, ADDRESS);
        cuInit = b.bind("cuInit", JAVA_INT);
        cuDriverGetVersion = b.bind("cuDriverGetVersion", ADDRESS);
        cuDeviceGetCount = b.bind("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = b.bind("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = b.bind("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = b.bind("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceTotalMem = b.bind("cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRetain = b.bind("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        // cuda.h maps cuDevicePrimaryCtxRelease to _v2 since CUDA 11; older drivers export only the plain name.
        primaryCtxReleaseName = b.firstPresent("cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
        cuDevicePrimaryCtxRelease = b.bind(primaryCtxReleaseName, JAVA_INT);
        cuCtxSetCurrent = b.bind("cuCtxSetCurrent", JAVA_LONG);
        cuCtxSynchronize = b.bind("cuCtxSynchronize");
        cuModuleLoadData = b.bind("cuModuleLoadData", ADDRESS, ADDRESS);
        cuModuleUnload = b.bind("cuModuleUnload", JAVA_LONG);
        cuModuleGetFunction = b.bind("cuModuleGetFunction", ADDRESS, JAVA_LONG, ADDRESS);
        cuFuncSetAttribute = b.bind("cuFuncSetAttribute", JAVA_LONG, JAVA_INT, JAVA_INT);
        cuLaunchKernel = b.bind("cuLaunchKernel", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
        cuLaunchKernelEx = b.bindOptional("cuLaunchKernelEx", ADDRESS, JAVA_LONG, ADDRESS, ADDRESS);
        cuMemAlloc = b.bind("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = b.bind("cuMemFree_v2", JAVA_LONG);
        cuMemcpyHtoD = b.bind("cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoH = b.bind("cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoD = b.bind("cuMemcpyDtoD_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemsetD8 = b.bind("cuMemsetD8_v2", JAVA_LONG, JAVA_BYTE, JAVA_LONG);
        cuMemcpyHtoDAsync = b.bind("cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoHAsync = b.bind("cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemGetInfo = b.bind("cuMemGetInfo_v2", ADDRESS, ADDRESS);
        cuStreamCreate = b.bind("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamDestroy = b.bind("cuStreamDestroy_v2", JAVA_LONG);
        cuStreamSynchronize = b.bind("cuStreamSynchronize", JAVA_LONG);
        cuStreamWaitEvent = b.bind("cuStreamWaitEvent", JAVA_LONG, JAVA_LONG, JAVA_INT);
        cuEventCreate = b.bind("cuEventCreate", ADDRESS, JAVA_INT);
        cuEventRecord = b.bind("cuEventRecord", JAVA_LONG, JAVA_LONG);
        cuEventSynchronize = b.bind("cuEventSynchronize", JAVA_LONG);
        // CUDA 12.8 added _v2 (same signature; cuda.h maps the plain name to it); older drivers lack it.
        eventElapsedTimeName = b.firstPresent("cuEventElapsedTime_v2", "cuEventElapsedTime");
        cuEventElapsedTime = b.bind(eventElapsedTimeName, ADDRESS, JAVA_LONG, JAVA_LONG);
        cuEventDestroy = b.bind("cuEventDestroy_v2", JAVA_LONG);
        // _v2 (CUDA 10.1+) takes the capture mode; cuda.h maps cuStreamBeginCapture to it.
        cuStreamBeginCapture = b.bind("cuStreamBeginCapture_v2", JAVA_LONG, JAVA_INT);
        cuStreamEndCapture = b.bind("cuStreamEndCapture", JAVA_LONG, ADDRESS);
        cuGraphInstantiateWithFlags = b.bind("cuGraphInstantiateWithFlags", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuGraphLaunch = b.bind("cuGraphLaunch", JAVA_LONG, JAVA_LONG);
        cuGraphExecDestroy = b.bind("cuGraphExecDestroy", JAVA_LONG);
        cuGraphDestroy = b.bind("cuGraphDestroy", JAVA_LONG);
    }

    /** The library this binding was loaded from. */
    public String library() {
        return library;
    }

    // ---- initialisation and devices ----

    public void init() {
        check("cuInit", () -> (int) cuInit.invokeExact(0));
    }

    /** The driver's CUDA version, e.g. 13000 for CUDA 13.0. */
    public int driverGetVersion() {
        return outInt("cuDriverGetVersion", out -> (int) cuDriverGetVersion.invokeExact(out));
    }

    public int deviceGetCount() {
        return outInt("cuDeviceGetCount", out -> (int) cuDeviceGetCount.invokeExact(out));
    }

    /** The {@code CUdevice} of an ordinal. */
    public int deviceGet(int ordinal) {
        return outInt("cuDeviceGet", out -> (int) cuDeviceGet.invokeExact(out, ordinal));
    }

    public String deviceGetName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            check("cuDeviceGetName", () -> (int) cuDeviceGetName.invokeExact(buf, 256, device));
            return buf.getString(0);
        }
    }

    public int deviceGetAttribute(int attribute, int device) {
        return outInt("cuDeviceGetAttribute", out -> (int) cuDeviceGetAttribute.invokeExact(out, attribute, device));
    }

    public long deviceTotalMem(int device) {
        return outLong("cuDeviceTotalMem_v2", out -> (int) cuDeviceTotalMem.invokeExact(out, device));
    }

    // ---- contexts ----

    public long devicePrimaryCtxRetain(int device) {
        return outLong("cuDevicePrimaryCtxRetain", out -> (int) cuDevicePrimaryCtxRetain.invokeExact(out, device));
    }

    public void devicePrimaryCtxRelease(int device) {
        check(primaryCtxReleaseName, () -> (int) cuDevicePrimaryCtxRelease.invokeExact(device));
    }

    public void ctxSetCurrent(long context) {
        check("cuCtxSetCurrent", () -> (int) cuCtxSetCurrent.invokeExact(context));
    }

    public void ctxSynchronize() {
        check("cuCtxSynchronize", () -> (int) cuCtxSynchronize.invokeExact());
    }

    public MemInfo memGetInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG);
            MemorySegment total = a.allocate(JAVA_LONG);
            check("cuMemGetInfo_v2", () -> (int) cuMemGetInfo.invokeExact(free, total));
            return new MemInfo(free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0));
        }
    }

    // ---- modules and launches ----

    /** Loads a cubin, fatbin or NUL-terminated PTX image that lives in native memory. */
    public long moduleLoadData(MemorySegment image) {
        return outLong("cuModuleLoadData", out -> (int) cuModuleLoadData.invokeExact(out, image));
    }

    public void moduleUnload(long module) {
        check("cuModuleUnload", () -> (int) cuModuleUnload.invokeExact(module));
    }

    public long moduleGetFunction(long module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cName = a.allocateFrom(name);
            return outLong("cuModuleGetFunction", out -> (int) cuModuleGetFunction.invokeExact(out, module, cName));
        }
    }

    public void funcSetAttribute(long function, int attribute, int value) {
        check("cuFuncSetAttribute", () -> (int) cuFuncSetAttribute.invokeExact(function, attribute, value));
    }

    /** {@code kernelParams} is a native {@code void*[]} (or NULL for a kernel without parameters). */
    public void launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                             int sharedMemBytes, long stream, MemorySegment kernelParams) {
        // Written out rather than through check(): this is the hot path, no lambda.
        int rc;
        try {
            rc = (int) cuLaunchKernel.invokeExact(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedMemBytes, stream, kernelParams, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != CuResults.CUDA_SUCCESS) throw error("cuLaunchKernel", rc);
    }

    /** Whether {@link #launchKernelProgrammatic} can run here (the driver has {@code cuLaunchKernelEx}). */
    public boolean hasProgrammaticLaunch() {
        return cuLaunchKernelEx != null;
    }

    // CUlaunchConfig (7 unsigned ints, then at 32 the stream, at 40 the attribute array, at 48 their count) and one
    // CUlaunchAttribute (an int id at 0, a 64-byte value union at 8).
    private static final long CONFIG_BYTES = 56, ATTRIBUTE_BYTES = 72;
    private static final int LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

    /**
     * As {@link #launchKernel}, with programmatic stream serialization allowed: the kernel may begin while the
     * previous kernel on the stream is still running (sm_90+), so it must wait ({@code griddepcontrol.wait}) before
     * reading that kernel's results. {@code scratch} holds the launch configuration for the call.
     */
    public void launchKernelProgrammatic(long function, int gridX, int gridY, int gridZ, int blockX, int blockY,
                                         int blockZ, int sharedMemBytes, long stream, MemorySegment kernelParams,
                                         Arena scratch) {
        MemorySegment attr = scratch.allocate(ATTRIBUTE_BYTES, 8);
        attr.set(JAVA_INT, 0, LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attr.set(JAVA_INT, 8, 1);
        MemorySegment config = scratch.allocate(CONFIG_BYTES, 8);
        int[] dims = {gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemBytes};
        for (int i = 0; i < dims.length; i++) config.set(JAVA_INT, 4L * i, dims[i]);
        config.set(JAVA_LONG, 32, stream);
        config.set(ADDRESS, 40, attr);
        config.set(JAVA_INT, 48, 1);
        int rc;
        try {
            rc = (int) cuLaunchKernelEx.invokeExact(config, function, kernelParams, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != CuResults.CUDA_SUCCESS) throw error("cuLaunchKernelEx", rc);
    }

    // ---- memory ----

    public long memAlloc(long bytes) {
        return outLong("cuMemAlloc_v2", out -> (int) cuMemAlloc.invokeExact(out, bytes));
    }

    public void memFree(long devicePtr) {
        check("cuMemFree_v2", () -> (int) cuMemFree.invokeExact(devicePtr));
    }

    public void memcpyHtoD(long dst, MemorySegment src, long bytes) {
        check("cuMemcpyHtoD_v2", () -> (int) cuMemcpyHtoD.invokeExact(dst, src, bytes));
    }

    public void memcpyDtoH(MemorySegment dst, long src, long bytes) {
        check("cuMemcpyDtoH_v2", () -> (int) cuMemcpyDtoH.invokeExact(dst, src, bytes));
    }

    public void memcpyDtoD(long dst, long src, long bytes) {
        check("cuMemcpyDtoD_v2", () -> (int) cuMemcpyDtoD.invokeExact(dst, src, bytes));
    }

    public void memsetD8(long dst, byte value, long bytes) {
        check("cuMemsetD8_v2", () -> (int) cuMemsetD8.invokeExact(dst, value, bytes));
    }

    public void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, long stream) {
        check("cuMemcpyHtoDAsync_v2", () -> (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream));
    }

    public void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, long stream) {
        check("cuMemcpyDtoHAsync_v2", () -> (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream));
    }

    // ---- streams and events ----

    public long streamCreate(int flags) {
        return outLong("cuStreamCreate", out -> (int) cuStreamCreate.invokeExact(out, flags));
    }

    public void streamDestroy(long stream) {
        check("cuStreamDestroy_v2", () -> (int) cuStreamDestroy.invokeExact(stream));
    }

    public void streamSynchronize(long stream) {
        check("cuStreamSynchronize", () -> (int) cuStreamSynchronize.invokeExact(stream));
    }

    public void streamWaitEvent(long stream, long event) {
        check("cuStreamWaitEvent", () -> (int) cuStreamWaitEvent.invokeExact(stream, event, 0));
    }

    public long eventCreate(int flags) {
        return outLong("cuEventCreate", out -> (int) cuEventCreate.invokeExact(out, flags));
    }

    public void eventRecord(long event, long stream) {
        check("cuEventRecord", () -> (int) cuEventRecord.invokeExact(event, stream));
    }

    public void eventSynchronize(long event) {
        check("cuEventSynchronize", () -> (int) cuEventSynchronize.invokeExact(event));
    }

    public float eventElapsedTime(long start, long end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(JAVA_FLOAT);
            check(eventElapsedTimeName, () -> (int) cuEventElapsedTime.invokeExact(ms, start, end));
            return ms.get(JAVA_FLOAT, 0);
        }
    }

    public void eventDestroy(long event) {
        check("cuEventDestroy_v2", () -> (int) cuEventDestroy.invokeExact(event));
    }

    // ---- graphs ----

    /** {@code CU_STREAM_CAPTURE_MODE_GLOBAL}: unsafe calls (synchronous copies, allocation) fail on every thread while capturing. */
    public static final int STREAM_CAPTURE_MODE_GLOBAL = 0;

    public void streamBeginCapture(long stream, int mode) {
        check("cuStreamBeginCapture_v2", () -> (int) cuStreamBeginCapture.invokeExact(stream, mode));
    }

    /** Ends the capture and returns the {@code CUgraph}; fails (capture invalidated) when an unsafe call happened during it. */
    public long streamEndCapture(long stream) {
        return outLong("cuStreamEndCapture", out -> (int) cuStreamEndCapture.invokeExact(stream, out));
    }

    public long graphInstantiateWithFlags(long graph, long flags) {
        return outLong("cuGraphInstantiateWithFlags", out -> (int) cuGraphInstantiateWithFlags.invokeExact(out, graph, flags));
    }

    public void graphLaunch(long graphExec, long stream) {
        // Written out rather than through check(): replayed in timing loops, no lambda.
        int rc;
        try {
            rc = (int) cuGraphLaunch.invokeExact(graphExec, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != CuResults.CUDA_SUCCESS) throw error("cuGraphLaunch", rc);
    }

    public void graphExecDestroy(long graphExec) {
        check("cuGraphExecDestroy", () -> (int) cuGraphExecDestroy.invokeExact(graphExec));
    }

    public void graphDestroy(long graph) {
        check("cuGraphDestroy", () -> (int) cuGraphDestroy.invokeExact(graph));
    }

    // ---- errors ----

    /** The exception for {@code code} returned by {@code function}, named and described by the driver. */
    public CudaException error(String function, int code) {
        return new CudaException(function, code,
                errorText(cuGetErrorName, code).orElseGet(() -> CuResults.fallbackName(code)),
                errorText(cuGetErrorString, code).orElseGet(() -> CuResults.fallbackDescription(code)), "");
    }

    // cuGetErrorName/String hand back a pointer to a static string, or fail for a code they do not know.
    private static Optional<String> errorText(MethodHandle getter, int code) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) getter.invokeExact(code, out);
            MemorySegment text = out.get(ADDRESS, 0);
            if (rc != CuResults.CUDA_SUCCESS || text.equals(MemorySegment.NULL)) return Optional.empty();
            return Optional.of(text.reinterpret(Integer.MAX_VALUE).getString(0));
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---- plumbing ----

    @FunctionalInterface
    private interface Call {
        int invoke() throws Throwable;
    }

    @FunctionalInterface
    private interface OutCall {
        int invoke(MemorySegment out) throws Throwable;
    }

    private void check(String function, Call call) {
        int rc;
        try {
            rc = call.invoke();
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != CuResults.CUDA_SUCCESS) throw error(function, rc);
    }

    private int outInt(String function, OutCall call) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            check(function, () -> call.invoke(out));
            return out.get(JAVA_INT, 0);
        }
    }

    // 8-byte out-parameters: CUdeviceptr, size_t and every opaque handle.
    private long outLong(String function, OutCall call) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            check(function, () -> call.invoke(out));
            return out.get(JAVA_LONG, 0);
        }
    }

    // invokeExact declares Throwable; the downcalls themselves only throw unchecked exceptions.
    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("unexpected checked exception from a CUDA driver downcall", t);
    }

    private static final class MissingSymbolException extends Exception {
        MissingSymbolException(String symbol) {
            super(symbol, null, false, false);
        }
    }

    /** Resolves symbols and makes downcall handles returning {@code CUresult} (a C int). */
    private static final class Binder {
        private final SymbolLookup lookup;

        Binder(SymbolLookup lookup) {
            this.lookup = lookup;
        }

        MethodHandle bind(String symbol, MemoryLayout... args) throws MissingSymbolException {
            MemorySegment address = lookup.find(symbol).orElseThrow(() -> new MissingSymbolException(symbol));
            return LINKER.downcallHandle(address, FunctionDescriptor.of(JAVA_INT, args));
        }

        /** As {@link #bind}, or null when the library lacks the symbol (a newer entry point an old driver may lack). */
        MethodHandle bindOptional(String symbol, MemoryLayout... args) {
            return lookup.find(symbol).map(a -> LINKER.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, args))).orElse(null);
        }

        String firstPresent(String... symbols) throws MissingSymbolException {
            for (String s : symbols) {
                if (lookup.find(s).isPresent()) return s;
            }
            throw new MissingSymbolException(String.join(" or ", List.of(symbols)));
        }
    }
}
