package dev.moespec.engine.bench;

import dev.moespec.api.device.DeviceInfo;

import java.util.List;

/**
 * Everything {@code moespec bench moe} measured, for the table, the JSON and the plot.
 *
 * @param device        where it ran
 * @param backend       the requested backend ({@code auto} or a name)
 * @param config        the run's settings
 * @param hbm           the peak bandwidth the % HBM column uses, and its source
 * @param peers         the anchors it compared against (possibly none)
 * @param l2FlushBytes  bytes written before each GPU repetition (0 when nothing ran on the GPU)
 * @param l2Flush       how the flush went, for the table ({@link L2Flush#describe()}; empty when nothing ran on the GPU)
 * @param rows          in the anchors' order: shape, then M, then dtype
 */
public record BenchReport(DeviceInfo device, String backend, MoeBench.Config config, PeerAnchors.HbmPeak hbm,
                          PeerAnchors peers, long l2FlushBytes, String l2Flush, List<BenchRow> rows) {
    public BenchReport {
        rows = List.copyOf(rows);
    }
}
