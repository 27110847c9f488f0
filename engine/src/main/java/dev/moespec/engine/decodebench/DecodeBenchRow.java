package dev.moespec.engine.decodebench;

import dev.moespec.engine.cuda.StepRegion;

import java.util.Map;

/**
 * One measured configuration of {@code bench decode}.
 *
 * @param device         {@code cpu} or the GPU's name
 * @param batch          sequences decoded together (one token each per step)
 * @param graphs         {@code on}, {@code off}, or {@code -} on the CPU
 * @param stepMillis     median host wall time of one decode step (launch, device work, token read-back)
 * @param tokensPerSecond {@code batch / step}
 * @param regionShare    each region's device time as a share of the step (empty on the CPU: not measured)
 * @param javaShare      Java-side dispatch: the host time to queue the step (our Java code and the driver calls it
 *                       makes, until the last launch is queued) as a share of the step (NaN on the CPU)
 * @param hostShare      the share of the step that is not device time: dispatch that the device waits for, launch
 *                       latency, the token read-back and the synchronisation (NaN on the CPU)
 */
public record DecodeBenchRow(String device, int batch, String graphs, double stepMillis, double tokensPerSecond,
                             Map<StepRegion, Double> regionShare, double javaShare, double hostShare) {
    public DecodeBenchRow {
        regionShare = Map.copyOf(regionShare);
    }
}
