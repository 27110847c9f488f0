package dev.moespec.engine.tokenizer;

/** Text to token ids and back. Implementations are immutable and thread-safe. */
public interface Tokenizer {

    /** Token ids of {@code text}; no BOS is added (callers prepend {@link #bosId()} when the model wants one). */
    int[] encode(String text);

    /** The bytes that {@code ids} stand for; special tokens contribute nothing. */
    byte[] decodeBytes(int[] ids);

    /** {@link #decodeBytes} as UTF-8, malformed sequences replaced. */
    default String decode(int[] ids) {
        return new String(decodeBytes(ids), java.nio.charset.StandardCharsets.UTF_8);
    }

    int vocabSize();

    int bosId();

    int eosId();
}
