package dev.moespec.cuda;

import java.util.Objects;

/**
 * A CUDA driver call returned an error. Carries what a user needs to act on it: the driver function that
 * failed, the numeric {@code CUresult}, its name and the driver's description, plus what moespec was doing:
 * <pre>cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory (allocating 1125899906842624 bytes on device 0)</pre>
 * Unchecked, like the driver's errors are unrecoverable for most callers; those that can recover
 * (out of memory, an invalid launch configuration) test {@link #errorName()} or {@link #code()}.
 */
public final class CudaException extends RuntimeException {
    private final String function;
    private final int code;
    private final String errorName;
    private final String description;
    private final String detail;

    /**
     * @param function    the driver function that failed, as exported ({@code cuMemAlloc_v2})
     * @param code        the numeric {@code CUresult}
     * @param errorName   its name ({@code CUDA_ERROR_OUT_OF_MEMORY}), from {@code cuGetErrorName}
     * @param description its text ({@code out of memory}), from {@code cuGetErrorString}
     * @param detail      what moespec was doing (kernel, sizes), or "" when the function says it all
     */
    public CudaException(String function, int code, String errorName, String description, String detail) {
        super(format(function, code, errorName, description, detail));
        this.function = Objects.requireNonNull(function, "function");
        this.code = code;
        this.errorName = Objects.requireNonNull(errorName, "errorName");
        this.description = Objects.requireNonNull(description, "description");
        this.detail = detail == null ? "" : detail;
    }

    private static String format(String function, int code, String errorName, String description, String detail) {
        String base = "%s failed: %s (%d): %s".formatted(function, errorName, code, description);
        return detail == null || detail.isEmpty() ? base : base + " (" + detail + ")";
    }

    /** The same error with {@code detail} (what was being done) added to the message; keeps this as cause. */
    public CudaException withDetail(String detail) {
        String joined = this.detail.isEmpty() ? detail : this.detail + "; " + detail;
        CudaException e = new CudaException(function, code, errorName, description, joined);
        e.initCause(this);
        return e;
    }

    /** The driver function that failed, e.g. {@code cuLaunchKernel}. */
    public String function() {
        return function;
    }

    /** The numeric {@code CUresult}. */
    public int code() {
        return code;
    }

    /** The {@code CUresult} name, e.g. {@code CUDA_ERROR_INVALID_VALUE}. */
    public String errorName() {
        return errorName;
    }

    /** The driver's description, e.g. {@code invalid argument}. */
    public String description() {
        return description;
    }

    /** What moespec was doing when the call failed; "" when nothing was added. */
    public String detail() {
        return detail;
    }
}
