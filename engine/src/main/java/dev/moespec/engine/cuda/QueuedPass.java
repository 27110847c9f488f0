package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaStream;

/**
 * A target pass queued on the device and not waited for ({@link CudaMoeModel#queueVerification}): where its rows'
 * inputs and outputs stay until the runner's next step, for the work queued behind it on {@code stream}.
 *
 * @param stream         the stream the pass runs on (later work on it sees the pass finished)
 * @param tokens         device address of the rows' input tokens (int32, one per row)
 * @param positions      device address of the rows' positions (int32)
 * @param sampled        device address of each row's greedy token (int32 argmax of its logits, lowest id on ties)
 * @param features       device address of each row's feature: the last layer's output before the final norm (fp32,
 *                       hidden size wide), what {@code StepOutput.feature} carries to the host
 * @param rows           rows computed, padding included: chunk c holds rows {@code c * tokensPerChunk ..}
 * @param tokensPerChunk tokens every chunk carried
 * @param chunks         chunks (sequences) of the pass
 */
public record QueuedPass(CudaStream stream, long tokens, long positions, long sampled, long features, int rows,
                         int tokensPerChunk, int chunks) {}
