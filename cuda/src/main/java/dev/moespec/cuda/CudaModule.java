package dev.moespec.cuda;

import dev.moespec.cuda.internal.DriverLibrary;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A loaded kernel image ({@code cuModuleLoadData}): a fatbin, cubin or PTX. Each plugin jar carries one
 * fatbin at {@link #kernelResource(String) META-INF/moespec/kernels/&lt;artifactId&gt;.fatbin}, built by
 * the {@code cuda-kernels} Maven profile from its {@code src/main/cuda/*.cu}.
 */
public final class CudaModule extends ContextResource {
    private static final String KERNEL_DIR = "META-INF/moespec/kernels/";

    private final long handle;
    private final String source;
    private final String image;
    private final Map<String, CudaFunction> functions = new ConcurrentHashMap<>();

    private CudaModule(CudaContext context, long handle, String source) {
        super(context);
        this.handle = handle;
        this.source = source;
        this.image = imageName(source);
    }

    static String imageName(String source) {
        if (source.startsWith(KERNEL_DIR) && source.endsWith(".fatbin")) {
            return source.substring(KERNEL_DIR.length(), source.length() - ".fatbin".length());
        }
        return source;
    }

    /** {@code META-INF/moespec/kernels/<artifactId>.fatbin}: where a plugin jar carries its kernels. */
    public static String kernelResource(String artifactId) {
        Objects.requireNonNull(artifactId, "artifactId");
        return KERNEL_DIR + artifactId + ".fatbin";
    }

    /**
     * Whether {@code loader} sees the fatbin of {@code artifactId}. Needs no GPU: backends call it from
     * {@code check()} to report {@code Rejected(NO_KERNELS)} for a jar built without nvcc.
     */
    public static boolean hasKernels(ClassLoader loader, String artifactId) {
        return loader.getResource(kernelResource(artifactId)) != null;
    }

    /** Loads a kernel image held in memory. */
    public static CudaModule load(CudaContext context, byte[] image) {
        return load(context, image, "in-memory kernel image of " + image.length + " bytes");
    }

    /**
     * Loads the kernel image at {@code resourcePath} (usually {@link #kernelResource}) from {@code loader}.
     *
     * @throws IllegalStateException when the resource is missing: the jar was built without nvcc
     */
    public static CudaModule fromResource(CudaContext context, ClassLoader loader, String resourcePath) {
        Objects.requireNonNull(context, "context");
        return load(context, readImage(loader, resourcePath), resourcePath);
    }

    /** Reads a kernel image resource; separate from loading so that the missing-jar error is testable without a GPU. */
    static byte[] readImage(ClassLoader loader, String resourcePath) {
        Objects.requireNonNull(loader, "loader");
        Objects.requireNonNull(resourcePath, "resourcePath");
        try (InputStream in = loader.getResourceAsStream(resourcePath)) {
            if (in == null) {
                throw new IllegalStateException("kernel image " + resourcePath + " is not on the classpath: the jar that should"
                        + " carry it was built without nvcc (a CPU-only build). Rebuild it with the CUDA toolkit installed,"
                        + " or pass -Dmoespec.nvcc=/path/to/nvcc");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel image " + resourcePath, e);
        }
    }

    private static CudaModule load(CudaContext context, byte[] image, String source) {
        Objects.requireNonNull(context, "context");
        Objects.requireNonNull(image, "image");
        if (image.length == 0) throw new IllegalArgumentException(source + " is empty: not a fatbin, cubin or PTX image");
        DriverLibrary driver = context.enterForCreate();
        long handle;
        try (Arena arena = Arena.ofConfined()) {
            // The trailing NUL makes a PTX image a C string; fatbin and cubin headers carry their own size.
            MemorySegment nativeImage = arena.allocate(image.length + 1L);
            MemorySegment.copy(MemorySegment.ofArray(image), 0, nativeImage, 0, image.length);
            handle = driver.moduleLoadData(nativeImage);
        } catch (CudaException e) {
            throw e.withDetail("loading " + source + " on " + context.describe()
                    + "; a fatbin needs SASS for this GPU's sm or PTX the driver can compile");
        }
        return context.track(new CudaModule(context, handle, source));
    }

    /**
     * The kernel called {@code name} (its {@code extern "C"} name); looked up once and cached.
     *
     * @throws CudaException naming the kernel and this module's source when there is no such kernel
     */
    public CudaFunction function(String name) {
        Objects.requireNonNull(name, "name");
        ensureOpen();
        return functions.computeIfAbsent(name, n -> {
            try {
                return new CudaFunction(this, n, enter().moduleGetFunction(handle, n));
            } catch (CudaException e) {
                throw e.withDetail("no kernel named \"" + n + "\" in " + source
                        + "; kernels are found by their extern \"C\" name");
            }
        });
    }

    /**
     * The image's short name, which {@link LaunchLedger} counts launches under: the artifactId for a plugin's
     * {@link #kernelResource kernel resource} ({@code moespec-backend-triton}), else the {@link #source()}.
     */
    public String image() {
        return image;
    }

    /** Where the image came from: the resource path, or a description of an in-memory image. */
    public String source() {
        return source;
    }

    @Override
    void destroy(DriverLibrary driver) {
        functions.clear();
        driver.moduleUnload(handle);
    }

    @Override
    String describe() {
        return "CUDA module " + source + " on " + context.describe();
    }
}
