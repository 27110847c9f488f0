package dev.moespec.engine.tokenizer;

/** A {@code tokenizer.json} this implementation cannot read; the message names the file and the field. */
public final class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
