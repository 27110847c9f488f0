package dev.moespec.moe;

/** {@link MoeBackendProvider#create} could not make a kernel; {@link #rejection()} says why, typed. */
public final class MoeKernelUnavailableException extends Exception {
    private final Eligibility.Rejected rejection;

    public MoeKernelUnavailableException(String backend, Eligibility.Rejected rejection) {
        super("MoE backend '" + backend + "' cannot create a kernel: " + rejection);
        this.rejection = rejection;
    }

    public Eligibility.Rejected rejection() {
        return rejection;
    }
}
