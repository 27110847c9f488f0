package dev.moespec.engine.cuda;

import dev.moespec.cuda.CudaStream;

/**
 * A target pass queued on the device and not waited for ({@link CudaMoeModel#queueVerification}): where its rows'
 * inputs and outputs stay until the runner's next step, for the work queued behind it on {@code stream}.
 *
 * @param stream         the stream the pass runs on (later work on it sees the pass finished)
 * @param tokens         device address of the rows' input tokens (int32, one per row)
 * @param positions      device address of the rows' positions (int32): the cache slot each row's k and v went to
 * @param rowBack        device address of a draft tree's per-row {@code row_back} (int32: how far a sibling's slot
 *                       lies past its logical position), or 0 for chains
 * @param sampled        device address of each row's greedy token (int32 argmax of its logits, lowest id on ties)
 * @param features       device address of each row's feature: the last layer's output before the final norm (fp32,
 *                       hidden size wide), what {@code StepOutput.feature} carries to the host
 * @param rows           rows computed, padding included: chunk c holds rows {@code c * tokensPerChunk ..}
 * @param tokensPerChunk tokens every chunk carried
 * @param siblings       sibling drafts at the end of every chunk (0: chains)
 * @param chunks         chunks (sequences) of the pass
 * @param cache          the target's KV cache as the pass's rows address it
 */
public record QueuedPass(CudaStream stream, long tokens, long positions, long rowBack, long sampled, long features,
                         int rows, int tokensPerChunk, int siblings, int chunks, KvSlots cache) {
    /**
     * A paged KV cache as a kernel sees a pass's rows in it: layer 0's keys and values (fp32), the stride between
     * layers (in floats), the layers, and the device addresses of the rows' block-table offsets and of the block
     * tables.
     */
    public record KvSlots(long keys, long values, long layerStride, int layers, long rowTables, long blockTables) {}
}
