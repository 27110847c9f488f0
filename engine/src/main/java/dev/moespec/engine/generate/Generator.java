package dev.moespec.engine.generate;

import dev.moespec.engine.model.ModelRunner;
import dev.moespec.engine.model.SequenceChunk;
import dev.moespec.engine.sampling.Sampler;
import dev.moespec.engine.sampling.SamplingParams;
import dev.moespec.engine.tokenizer.Tokenizer;
import dev.moespec.engine.tokenizer.Utf8StreamDecoder;

import java.util.Arrays;
import java.util.List;

/**
 * Plain (non-speculative) generation on one {@link ModelRunner}: prefill the prompt, then one decode step per
 * token, sampling each with the request's {@link SamplingParams}, streaming tokens to a listener, stopping on EOS
 * (unless ignored) or at {@code max_tokens}.
 */
public final class Generator {
    private final ModelRunner model;
    private final Tokenizer tokenizer;

    public Generator(ModelRunner model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** The prompt as the demo family was trained: BOS, then the text's tokens. */
    public int[] promptIds(String prompt) {
        int[] text = tokenizer.encode(prompt);
        int[] ids = new int[text.length + 1];
        ids[0] = tokenizer.bosId();
        System.arraycopy(text, 0, ids, 1, text.length);
        return ids;
    }

    public GenerationResult generate(int[] promptIds, SamplingParams params, TokenListener listener) {
        if (promptIds.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        int seq = model.open(promptIds.length + params.maxTokens());
        try {
            Sampler sampler = new Sampler(params);
            Utf8StreamDecoder decoder = new Utf8StreamDecoder(tokenizer);
            int[] out = new int[params.maxTokens()];
            int n = 0;
            long start = System.nanoTime(), ttft = 0;
            float[] logits = model.step(List.of(SequenceChunk.last(seq, promptIds))).lastLogits(0);
            StopReason stop = StopReason.MAX_TOKENS;
            while (n < params.maxTokens()) {
                int token = sampler.sample(logits);
                out[n++] = token;
                if (n == 1) ttft = System.nanoTime() - start;
                listener.onToken(token, decoder.accept(token));
                if (token == tokenizer.eosId() && !params.ignoreEos()) {
                    stop = StopReason.EOS;
                    break;
                }
                if (n < params.maxTokens()) logits = model.step(List.of(SequenceChunk.last(seq, token))).lastLogits(0);
            }
            long total = System.nanoTime() - start;
            String tail = decoder.flush();
            if (!tail.isEmpty()) listener.onToken(-1, tail);
            int[] tokens = Arrays.copyOf(out, n);
            return new GenerationResult(tokens, tokenizer.decode(tokens), promptIds.length, ttft, total, stop,
                    model.moeBackend());
        } finally {
            model.release(seq);
        }
    }
}
