package dev.moespec.cuda.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Hand-written FFM downcalls into cuBLAS ({@code libcublas.so}): handle create/destroy, stream, workspace and
 * {@code cublasGemmEx}. Loaded once, lazily, like the driver: a missing library or symbol becomes a
 * {@link Load.Missing} reason, never an {@code UnsatisfiedLinkError}.
 *
 * <p>Where it is looked for, first hit wins: {@code $MOESPEC_CUBLAS} (a file), the dynamic linker's own search
 * ({@code LD_LIBRARY_PATH}, the {@code ldconfig} cache) for {@code libcublas.so.13}, {@code .12}, {@code libcublas.so},
 * then {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda*}{@code /lib64} and {@code targets/x86_64-linux/lib}, and
 * the pip wheels' {@code site-packages/nvidia/{cublas,cu13,cu12}/lib}. {@code libcublasLt} from the same folder is
 * loaded first, so a toolkit folder that is not in the linker's path still resolves it.
 *
 * <p>Handles, device pointers and streams are {@code long}s (LP64); {@code alpha}/{@code beta} are host pointers
 * (cuBLAS's default pointer mode), read when the call is made, so a captured CUDA graph keeps the values.
 */
public final class CublasLibrary {
    /** {@code cublasOperation_t}. */
    public static final int OP_N = 0, OP_T = 1;
    /** {@code cudaDataType_t} values used here. */
    public static final int R_32F = 0, R_16F = 2, R_16BF = 14;
    /** {@code CUBLAS_COMPUTE_32F}: fp32 accumulation (no TF32 shortcut). */
    public static final int COMPUTE_32F = 68;
    /** {@code CUBLAS_GEMM_DEFAULT}. */
    public static final int GEMM_DEFAULT = -1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final String[] SONAMES = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};

    /** The outcome of loading cuBLAS. */
    public sealed interface Load permits Load.Loaded, Load.Missing {
        record Loaded(CublasLibrary library) implements Load {}

        record Missing(String reason) implements Load {}
    }

    private static final class Holder {
        static final Load LOAD = load();
    }

    /** The process-wide binding, loaded on the first call. */
    public static Load get() {
        return Holder.LOAD;
    }

    private final String path;
    private final MethodHandle create, destroy, setStream, setWorkspace, gemmEx;
    private final MethodHandle statusName; // null when the library predates cublasGetStatusName

    private CublasLibrary(String path, SymbolLookup lookup) {
        this.path = path;
        create = bind(lookup, "cublasCreate_v2", ADDRESS);
        destroy = bind(lookup, "cublasDestroy_v2", JAVA_LONG);
        setStream = bind(lookup, "cublasSetStream_v2", JAVA_LONG, JAVA_LONG);
        setWorkspace = bind(lookup, "cublasSetWorkspace_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
        // cublasGemmEx(handle, transa, transb, m, n, k, alpha*, A, Atype, lda, B, Btype, ldb, beta*, C, Ctype, ldc,
        //              computeType, algo)
        gemmEx = bind(lookup, "cublasGemmEx", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT);
        statusName = lookup.find("cublasGetStatusName")
                .map(a -> LINKER.downcallHandle(a, FunctionDescriptor.of(ADDRESS, JAVA_INT))).orElse(null);
    }

    private static MethodHandle bind(SymbolLookup lookup, String symbol, MemoryLayout... args) {
        MemorySegment address = lookup.find(symbol).orElseThrow(() -> new MissingSymbol(symbol));
        return LINKER.downcallHandle(address, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** The file or soname it was loaded from. */
    public String path() {
        return path;
    }

    static Load load() {
        List<String> tried = new ArrayList<>();
        for (String candidate : candidates()) {
            tried.add(candidate);
            SymbolLookup lookup;
            try {
                preloadLt(candidate);
                lookup = SymbolLookup.libraryLookup(candidate, Arena.global());
            } catch (IllegalArgumentException e) {
                continue;
            } catch (IllegalCallerException e) {
                return new Load.Missing("native access to cuBLAS is denied: run java with --enable-native-access=ALL-UNNAMED");
            }
            try {
                return new Load.Loaded(new CublasLibrary(candidate, lookup));
            } catch (MissingSymbol e) {
                return new Load.Missing(candidate + " has no symbol " + e.getMessage() + " (cuBLAS 11 or newer is needed)");
            }
        }
        return new Load.Missing("libcublas not found (tried " + String.join(", ", tried) + "); install the CUDA toolkit's"
                + " cuBLAS or the nvidia-cublas wheel, or set MOESPEC_CUBLAS=/path/to/libcublas.so.N");
    }

    /** cuBLAS needs libcublasLt; loading it first by path makes a toolkit folder outside the linker path work. */
    private static void preloadLt(String candidate) {
        if (!candidate.contains("/")) return;
        Path lib = Path.of(candidate);
        Path dir = lib.getParent();
        String lt = lib.getFileName().toString().replace("libcublas", "libcublasLt");
        Path ltPath = dir.resolve(lt);
        if (Files.exists(ltPath)) {
            try {
                SymbolLookup.libraryLookup(ltPath, Arena.global());
            } catch (IllegalArgumentException ignored) {
                // cuBLAS itself will say what is missing
            }
        }
    }

    private static List<String> candidates() {
        List<String> out = new ArrayList<>();
        String env = System.getenv("MOESPEC_CUBLAS");
        if (env != null && !env.isBlank()) out.add(env.strip());
        out.addAll(List.of(SONAMES));
        List<Path> dirs = new ArrayList<>();
        String home = System.getenv("CUDA_HOME");
        if (home != null && !home.isBlank()) dirs.add(Path.of(home, "lib64"));
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        dirs.add(Path.of("/usr/local/cuda/targets/x86_64-linux/lib"));
        dirs.addAll(children(Path.of("/usr/local"), "cuda-", "lib64"));
        for (Path site : sitePackages()) {
            for (String sub : new String[]{"cublas/lib", "cu13/lib", "cu12/lib"}) dirs.add(site.resolve("nvidia").resolve(sub));
        }
        for (Path dir : dirs) {
            for (String so : SONAMES) {
                Path p = dir.resolve(so);
                if (Files.isRegularFile(p)) out.add(p.toString());
            }
        }
        return out;
    }

    private static List<Path> children(Path parent, String prefix, String sub) {
        try (Stream<Path> s = Files.list(parent)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).map(p -> p.resolve(sub)).sorted().toList();
        } catch (Exception e) {
            return List.of();
        }
    }

    private static List<Path> sitePackages() {
        List<Path> out = new ArrayList<>();
        for (Path root : new Path[]{Path.of("/usr/local/lib"), Path.of("/usr/lib"), Path.of(System.getProperty("user.home"), ".local/lib"),
                Path.of("/opt/conda/lib")}) {
            for (Path py : children(root, "python3", "site-packages")) out.add(py);
            for (Path py : children(root, "python3", "dist-packages")) out.add(py);
        }
        return out;
    }

    // ---- calls; each returns the cublasStatus_t, the Java wrapper turns non-zero into an exception ----

    public int create(MemorySegment handleOut) {
        try {
            return (int) create.invokeExact(handleOut);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public int destroy(long handle) {
        try {
            return (int) destroy.invokeExact(handle);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public int setStream(long handle, long stream) {
        try {
            return (int) setStream.invokeExact(handle, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public int setWorkspace(long handle, long workspace, long bytes) {
        try {
            return (int) setWorkspace.invokeExact(handle, workspace, bytes);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    @SuppressWarnings("checkstyle:ParameterNumber")
    public int gemmEx(long handle, int transa, int transb, int m, int n, int k, MemorySegment alpha, long a, int aType,
                      int lda, long b, int bType, int ldb, MemorySegment beta, long c, int cType, int ldc,
                      int computeType, int algo) {
        try {
            return (int) gemmEx.invokeExact(handle, transa, transb, m, n, k, alpha, a, aType, lda, b, bType, ldb, beta,
                    c, cType, ldc, computeType, algo);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code CUBLAS_STATUS_...} for {@code status}: from the library when it can say, else our table. */
    public String statusName(int status) {
        if (statusName != null) {
            try {
                MemorySegment s = (MemorySegment) statusName.invokeExact(status);
                if (!s.equals(MemorySegment.NULL)) return s.reinterpret(256).getString(0);
            } catch (Throwable ignored) {
                // fall through to the table
            }
        }
        return knownStatusName(status).orElse("CUBLAS_STATUS_" + status);
    }

    /** The names cublas_api.h gives the status codes. */
    public static Optional<String> knownStatusName(int status) {
        return Optional.ofNullable(switch (status) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> null;
        });
    }

    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("unexpected checked exception from a cuBLAS downcall", t);
    }

    private static final class MissingSymbol extends RuntimeException {
        MissingSymbol(String symbol) {
            super(symbol, null, false, false);
        }
    }
}
