package dev.moespec.cuda;

import dev.moespec.cuda.internal.CublasLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Objects;

/**
 * A cuBLAS handle bound to one {@link CudaContext} and one stream, for the dense GEMMs of a model (projections,
 * router, lm_head): {@link #gemm} computes {@code C[M, N] = alpha · A[M, K] · B[N, K]ᵀ + beta · C} on row-major
 * device matrices (the layout of {@code x · Wᵀ} with an HF weight {@code W[out, in]}), with fp32 accumulation.
 *
 * <p>It owns a fixed workspace, so calls never allocate and can be captured into a CUDA graph. Not tracked by the
 * context: close it before closing the context. Not thread-safe (one handle per runner).
 */
public final class Cublas implements AutoCloseable {
    /** Workspace handed to cuBLAS; 32 MiB is what NVIDIA recommends for Hopper. */
    public static final long WORKSPACE_BYTES = 32L << 20;

    /** Element types {@link #gemm} accepts. */
    public enum Type {
        F32(CublasLibrary.R_32F, 4), F16(CublasLibrary.R_16F, 2), BF16(CublasLibrary.R_16BF, 2);

        final int cuda;
        final int bytes;

        Type(int cuda, int bytes) {
            this.cuda = cuda;
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }
    }

    private final CudaContext context;
    private final CublasLibrary lib;
    private final DeviceBuffer workspace;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one, zero;
    private long handle;
    private long stream;

    private Cublas(CudaContext context, CublasLibrary lib, long handle, DeviceBuffer workspace) {
        this.context = context;
        this.lib = lib;
        this.handle = handle;
        this.workspace = workspace;
        this.one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        this.zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
    }

    /** Whether cuBLAS can be loaded here (computed once); does not need a GPU. */
    public static CublasAvailability available() {
        return switch (CublasLibrary.get()) {
            case CublasLibrary.Load.Loaded l -> new CublasAvailability.Available(l.library().path());
            case CublasLibrary.Load.Missing m -> new CublasAvailability.Unavailable(m.reason());
        };
    }

    /**
     * Creates a handle in {@code context} that queues its work on {@code stream}.
     *
     * @throws IllegalStateException when cuBLAS is unavailable (the message says why and how to fix it)
     * @throws CublasException       when {@code cublasCreate} fails
     */
    public static Cublas create(CudaContext context, CudaStream stream) {
        Objects.requireNonNull(context, "context");
        Objects.requireNonNull(stream, "stream");
        CublasLibrary lib = switch (CublasLibrary.get()) {
            case CublasLibrary.Load.Loaded l -> l.library();
            case CublasLibrary.Load.Missing m -> throw new IllegalStateException("cuBLAS is unavailable: " + m.reason());
        };
        context.makeCurrent(); // cuBLAS runs on the runtime API, which uses the thread's current context
        long h;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            int rc = lib.create(out);
            if (rc != 0) throw new CublasException("cublasCreate_v2", rc, lib.statusName(rc), "on " + context.info().describe());
            h = out.get(ValueLayout.JAVA_LONG, 0);
        }
        DeviceBuffer ws;
        try {
            ws = DeviceBuffer.alloc(context, WORKSPACE_BYTES);
        } catch (RuntimeException e) {
            lib.destroy(h);
            throw e;
        }
        Cublas cublas = new Cublas(context, lib, h, ws);
        try {
            cublas.check("cublasSetWorkspace_v2", lib.setWorkspace(h, ws.address(), WORKSPACE_BYTES), "");
            cublas.setStream(stream);
        } catch (RuntimeException e) {
            cublas.close();
            throw e;
        }
        return cublas;
    }

    /** Queues later calls on {@code stream} (of the same context). */
    public void setStream(CudaStream stream) {
        ensureOpen();
        long s = stream.handle();
        context.makeCurrent();
        check("cublasSetStream_v2", lib.setStream(handle, s), "");
        this.stream = s;
    }

    /** The raw stream handle calls are queued on. */
    public long stream() {
        return stream;
    }

    /**
     * {@code C[m, n] = A[m, k] · B[n, k]ᵀ (+ C when accumulate)}, all row-major device matrices, fp32 accumulation.
     * With an HF weight as {@code B} this is {@code y = x · Wᵀ}. Supported type triples are cuBLAS's for
     * {@code CUBLAS_COMPUTE_32F}: bf16/f16 inputs with an output of the same type or f32, and all-f32.
     *
     * @throws CublasException with the status name and the shapes when cuBLAS refuses
     */
    public void gemm(long a, Type aType, long b, Type bType, long c, Type cType, int m, int n, int k, boolean accumulate) {
        ensureOpen();
        if (m <= 0 || n <= 0 || k <= 0) throw new IllegalArgumentException("gemm sizes must be positive, got m=" + m + " n=" + n + " k=" + k);
        if (aType != bType) throw new IllegalArgumentException("A and B must have one type, got " + aType + " and " + bType);
        // Row-major C[m,n] = A·Bᵀ is column-major Cᵀ[n,m] = B·Aᵀ: cuBLAS sees B (k×n col-major) transposed, A as is.
        int rc = lib.gemmEx(handle, CublasLibrary.OP_T, CublasLibrary.OP_N, n, m, k, one, b, bType.cuda, k, a, aType.cuda, k,
                accumulate ? one : zero, c, cType.cuda, n, CublasLibrary.COMPUTE_32F, CublasLibrary.GEMM_DEFAULT);
        if (rc != 0) {
            check("cublasGemmEx", rc, String.format(Locale.ROOT, "C[%d, %d] %s= A[%d, %d] · B[%d, %d]ᵀ, %s x %s -> %s",
                    m, n, accumulate ? "+" : "", m, k, n, k, aType, bType, cType));
        }
    }

    private void check(String function, int rc, String detail) {
        if (rc != 0) throw new CublasException(function, rc, lib.statusName(rc), detail);
    }

    private void ensureOpen() {
        if (handle == 0) throw new IllegalStateException("this cuBLAS handle is closed");
        if (context.isClosed()) throw new IllegalStateException("the CudaContext of this cuBLAS handle was closed; close the handle first");
    }

    /** Destroys the handle and frees its workspace. Idempotent. */
    @Override
    public synchronized void close() {
        if (handle == 0) return;
        long h = handle;
        handle = 0;
        try {
            if (!context.isClosed()) {
                context.makeCurrent();
                lib.destroy(h);
                workspace.close();
            }
        } finally {
            arena.close();
        }
    }
}
