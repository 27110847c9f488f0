package dev.moespec.cli;

/** A command-line value that the CLI itself rejects (a missing model directory, an unknown device name). */
final class UserInputException extends RuntimeException {
    UserInputException(String message) {
        super(message);
    }
}
