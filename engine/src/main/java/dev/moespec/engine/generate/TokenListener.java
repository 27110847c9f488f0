package dev.moespec.engine.generate;

/** Receives tokens as they are produced (streaming). */
@FunctionalInterface
public interface TokenListener {
    TokenListener NONE = (id, text) -> {};

    /**
     * @param id   the token id, or -1 for the undecodable remainder flushed at the end of the stream
     * @param text the text it completes (empty while a UTF-8 character is still split across tokens)
     */
    void onToken(int id, String text);
}
