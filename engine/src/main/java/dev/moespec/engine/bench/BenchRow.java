package dev.moespec.engine.bench;

import dev.moespec.moe.Eligibility;

import java.util.Optional;
import java.util.OptionalDouble;

/** One row of {@code moespec bench moe}: a shape × dtype × M, measured, rejected by the backend, or failed. */
public sealed interface BenchRow permits BenchRow.Measured, BenchRow.Rejected, BenchRow.Failed {

    BenchShape shape();

    BenchDtype dtype();

    int tokens();

    /** The backend that ran (or refused) the row; for {@code auto}, the one it resolved to. */
    String backend();

    /** The peer's row, when the anchors have one. */
    Optional<PeerAnchors.PeerRow> peer();

    /**
     * Timed.
     *
     * @param expertsHit distinct experts the batch routes to (host routing, same rule as the kernel)
     * @param main       the experts stage of a staged kernel, else the whole forward ({@code staged} says which)
     * @param align      routing/alignment of a staged kernel (the anchors' align_us); empty when timed whole
     * @param staged     whether the kernel is a {@link dev.moespec.moe.StagedMoeKernel}
     * @param tflops     2·M·k·(H·2I + I·H) / main
     * @param gbps       bytes of the experts hit / main, GB/s
     * @param pctHbm     gbps over the peak HBM bandwidth, percent
     * @param error      ‖ours − cpu_reference‖ / ‖cpu_reference‖, when checked
     * @param errorNote  why there is no error value ("n/a: ..."), or ""
     */
    record Measured(BenchShape shape, BenchDtype dtype, int tokens, String backend, Optional<PeerAnchors.PeerRow> peer,
                    int expertsHit, Timing main, Optional<Timing> align, boolean staged, double flops, long weightBytes,
                    double tflops, double gbps, double pctHbm, OptionalDouble error, String errorNote) implements BenchRow {

        /** peer_us / ours: above 1 means faster than the peer. */
        public OptionalDouble ratio() {
            return peer.map(p -> OptionalDouble.of(p.peerUs() / main.medianUs())).orElse(OptionalDouble.empty());
        }
    }

    /** The backend cannot run the row; {@code rejection} is its typed reason. */
    record Rejected(BenchShape shape, BenchDtype dtype, int tokens, String backend, Optional<PeerAnchors.PeerRow> peer,
                    Eligibility.Rejected rejection) implements BenchRow {}

    /** The backend accepted the row but running it threw; {@code error} is the message. */
    record Failed(BenchShape shape, BenchDtype dtype, int tokens, String backend, Optional<PeerAnchors.PeerRow> peer,
                  String error) implements BenchRow {}
}
