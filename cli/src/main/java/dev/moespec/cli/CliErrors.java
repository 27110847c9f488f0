package dev.moespec.cli;

import picocli.CommandLine;

import java.io.PrintWriter;

/**
 * One exit code and one line for every bad input: picocli's own parse errors and the typed errors of
 * configs, registries and the resolver all end as {@code moespec: <message>} on stderr with exit code 2.
 * Anything else is a bug and keeps its stack trace (exit 1).
 */
final class CliErrors {
    static final int BAD_INPUT = 2;

    private CliErrors() {}

    static CommandLine configure(CommandLine cl) {
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("moespec: " + ex.getMessage() + " (see '" + ex.getCommandLine().getCommandName() + " --help')");
            return BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (isUserError(ex)) {
                commandLine.getErr().println("moespec: " + oneLine(ex.getMessage()));
                return BAD_INPUT;
            }
            throw ex;
        });
        return cl;
    }

    /** Our typed errors are all IllegalArgumentException / IllegalStateException subclasses with a user-facing message. */
    private static boolean isUserError(Exception ex) {
        return ex instanceof UserInputException || ex instanceof IllegalArgumentException
                || ex.getClass().getPackageName().startsWith("dev.moespec") && ex instanceof RuntimeException;
    }

    private static String oneLine(String message) {
        return message == null ? "(no message)" : message.replace('\n', ' ').strip();
    }
}
