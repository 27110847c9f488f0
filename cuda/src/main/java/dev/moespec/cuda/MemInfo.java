package dev.moespec.cuda;

/**
 * Device memory as the driver reports it for the current context ({@code cuMemGetInfo}).
 *
 * @param freeBytes  memory not yet allocated by anyone on the device
 * @param totalBytes the device's memory
 */
public record MemInfo(long freeBytes, long totalBytes) {
    public MemInfo {
        if (freeBytes < 0 || totalBytes < 0 || freeBytes > totalBytes) {
            throw new IllegalArgumentException("inconsistent memory info: free " + freeBytes + " of " + totalBytes + " bytes");
        }
    }

    public long usedBytes() {
        return totalBytes - freeBytes;
    }
}
