package dev.moespec.cuda;

/**
 * A cuBLAS call returned an error status: the function, the numeric {@code cublasStatus_t}, its name and what
 * moespec was doing, e.g.
 * <pre>cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE (7) (C[4, 320] = A[4, 256] · B[320, 256]ᵀ, bf16 x bf16 -> f32)</pre>
 */
public final class CublasException extends RuntimeException {
    private final String function;
    private final int status;
    private final String statusName;

    public CublasException(String function, int status, String statusName, String detail) {
        super(function + " failed: " + statusName + " (" + status + ")" + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"));
        this.function = function;
        this.status = status;
        this.statusName = statusName;
    }

    /** The cuBLAS function that failed, e.g. {@code cublasGemmEx}. */
    public String function() {
        return function;
    }

    /** The numeric {@code cublasStatus_t}. */
    public int status() {
        return status;
    }

    /** Its name, e.g. {@code CUBLAS_STATUS_NOT_SUPPORTED}. */
    public String statusName() {
        return statusName;
    }
}
