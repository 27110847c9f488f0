package dev.moespec.engine.model;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.engine.sampling.Sampler;

import java.util.List;

/**
 * One role's model as the generation loop sees it: open sequences in its KV cache, then run steps that append
 * tokens to several sequences at once (batched: the MoE layers see every new token of every chunk in one call).
 * The CPU implementation keeps host tensors; a CUDA one keeps device tensors behind the same interface.
 */
public interface ModelRunner extends AutoCloseable {

    ModelConfig config();

    /**
     * Opens a sequence with room for {@code maxTokens} tokens (prompt and continuation).
     *
     * @throws KvCacheCapacityException when the KV cache cannot hold it
     */
    int open(int maxTokens);

    /** Frees a sequence's KV cache. */
    void release(int sequence);

    /** Tokens already cached for {@code sequence}. */
    int length(int sequence);

    /**
     * Drops the cached tokens of {@code sequence} from position {@code length} on: the rollback after the target
     * rejected speculative tokens it had already appended.
     *
     * @throws IllegalArgumentException when {@code length} is negative or above the cached length
     */
    void truncate(int sequence, int length);

    /**
     * Appends each chunk's tokens to its sequence and returns their logits. Chunks must name distinct sequences.
     *
     * @throws IllegalArgumentException when a chunk would exceed its sequence's reserved length or a token id is
     *                                  outside the vocabulary
     */
    StepOutput step(List<SequenceChunk> chunks);

    /**
     * As {@link #step}, for a caller that reads only the logits: the features need not come back, and the returned
     * output has none. A device runner leaves them on the device, where a drafter running on the same device can take
     * them (the fused EAGLE/MTP catch-up after prefill); plain decoding never reads them.
     */
    default StepOutput stepLogitsOnly(List<SequenceChunk> chunks) {
        return step(chunks).withoutFeatures();
    }

    /**
     * One greedy decode step: appends {@code tokens[i]} to {@code sequences[i]} (distinct sequences) and returns each
     * one's next token, the argmax of its logits (lowest id on ties). A device runner overrides it to take the argmax
     * where the logits are and bring back only the tokens.
     */
    default int[] greedyStep(int[] sequences, int[] tokens) {
        List<SequenceChunk> chunks = new java.util.ArrayList<>(sequences.length);
        for (int i = 0; i < sequences.length; i++) chunks.add(SequenceChunk.last(sequences[i], tokens[i]));
        StepOutput out = step(chunks);
        int[] next = new int[sequences.length];
        for (int i = 0; i < next.length; i++) next[i] = Sampler.argmax(out.lastLogits(i));
        return next;
    }

    /** The MoE backend(s) this runner's layers ran on, for reports. */
    String moeBackend();

    /** Where it runs: {@code cpu} or a device name. */
    String device();

    @Override
    void close();

    /** Refuses a sequence of {@code maxTokens} tokens that does not fit {@code cfg}'s position embeddings. */
    static void requireWithinPositions(ModelConfig cfg, int maxTokens) {
        if (maxTokens > cfg.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("a sequence of " + maxTokens + " tokens exceeds max_position_embeddings "
                    + cfg.maxPositionEmbeddings() + " of " + cfg.configFile() + "; shorten the prompt or --max-tokens");
        }
    }
}
