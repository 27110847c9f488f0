package dev.moespec.moe;

import java.util.Objects;

/** A backend's answer to "can you run this layer on this device?" — with a reason when it can't. */
public sealed interface Eligibility permits Eligibility.Eligible, Eligibility.Rejected {

    static Eligibility eligible() {
        return Eligible.INSTANCE;
    }

    static Rejected rejected(Reason reason, String detail) {
        return new Rejected(reason, detail);
    }

    default boolean isEligible() {
        return this instanceof Eligible;
    }

    /** The backend can run the layer. */
    record Eligible() implements Eligibility {
        static final Eligible INSTANCE = new Eligible();
    }

    /**
     * The backend cannot run the layer.
     *
     * @param reason machine-readable category
     * @param detail one human sentence, naming the layer property and, where there is one, the fix
     */
    record Rejected(Reason reason, String detail) implements Eligibility {
        public Rejected {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(detail, "detail");
        }

        @Override
        public String toString() {
            return reason + ": " + detail;
        }
    }

    /** Why a backend was rejected. Stable names: reports and tests print them. */
    enum Reason {
        /** No CUDA driver or device at run time. */
        NO_DEVICE,
        /** The backend's fatbin is missing (built without nvcc) or lacks code for this GPU. */
        NO_KERNELS,
        /** The kernels are not written yet; {@code create()} refuses. */
        NOT_IMPLEMENTED,
        /** The weight/activation quantization is not served by this backend. */
        UNSUPPORTED_QUANTIZATION,
        /** The GPU architecture (SM version) is not served. */
        UNSUPPORTED_DEVICE,
        /** A shape property (hidden size, intermediate size, expert count, top-k) is out of range. */
        UNSUPPORTED_SHAPE,
        /** The routing function or activation is not served. */
        UNSUPPORTED_ROUTING,
        /** An operator excluded the backend (moespec.moe.exclude / MOESPEC_MOE_EXCLUDE). */
        EXCLUDED,
        /** Creating the kernel failed on the device (out of memory, module load failure). */
        DEVICE_ERROR
    }
}
