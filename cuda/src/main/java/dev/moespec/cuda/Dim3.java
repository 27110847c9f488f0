package dev.moespec.cuda;

/**
 * A CUDA grid or block size. Every component is at least 1: a zero-sized launch does nothing on the GPU
 * but still costs a driver call, so callers skip it instead. Device-specific upper limits (1024 threads
 * per block) are left to the driver, which reports them as {@code CUDA_ERROR_INVALID_VALUE}.
 */
public record Dim3(int x, int y, int z) {
    public Dim3 {
        if (x < 1 || y < 1 || z < 1) {
            throw new IllegalArgumentException("grid and block sizes must be >= 1 in every dimension, got " + format(x, y, z)
                    + ": skip the launch when there is no work");
        }
    }

    public static Dim3 of(int x) {
        return new Dim3(x, 1, 1);
    }

    public static Dim3 of(int x, int y) {
        return new Dim3(x, y, 1);
    }

    public static Dim3 of(int x, int y, int z) {
        return new Dim3(x, y, z);
    }

    /** A 1-D grid with enough blocks of {@code blockSize} threads to cover {@code n} elements (n > 0). */
    public static Dim3 gridFor(long n, int blockSize) {
        if (n < 1 || blockSize < 1) {
            throw new IllegalArgumentException("gridFor needs n >= 1 and blockSize >= 1, got n=" + n + ", blockSize=" + blockSize);
        }
        long blocks = Math.ceilDiv(n, blockSize);
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(n + " elements need " + blocks + " blocks of " + blockSize
                    + " threads, more than a grid dimension holds (" + Integer.MAX_VALUE + "): use a grid-stride loop");
        }
        return of((int) blocks);
    }

    /** Threads (for a block) or blocks (for a grid) in all: x*y*z. */
    public long count() {
        return (long) x * y * z;
    }

    @Override
    public String toString() {
        return format(x, y, z);
    }

    private static String format(int x, int y, int z) {
        return "(" + x + ", " + y + ", " + z + ")";
    }
}
