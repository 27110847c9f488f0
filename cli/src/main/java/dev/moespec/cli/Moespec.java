package dev.moespec.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code moespec} command. Every bad input exits 2 with one actionable line (see {@link CliErrors}). */
@Command(name = "moespec", mixinStandardHelpOptions = true, versionProvider = Moespec.Version.class,
        description = "MoE inference with speculative decoding; MoE backends and proposers are plugins.",
        subcommands = {PlanCommand.class, GenerateCommand.class, dev.moespec.cli.bench.BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Moespec {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        return CliErrors.configure(new CommandLine(new Moespec())).execute(args);
    }

    /** Runs a command line with its output and errors going to the given writers. */
    public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine cl = CliErrors.configure(new CommandLine(new Moespec()));
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Moespec.class.getPackage().getImplementationVersion();
            return new String[] {"moespec " + (v == null ? "dev" : v)};
        }
    }
}
