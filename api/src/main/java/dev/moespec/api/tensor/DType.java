package dev.moespec.api.tensor;

/** Element types of tensors crossing plugin boundaries. */
public enum DType {
    F32(4), BF16(2), F16(2), FP8_E4M3(1), I32(4), I64(8), U8(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int byteSize() {
        return bytes;
    }
}
