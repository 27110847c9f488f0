package dev.moespec.cli.bench;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code moespec bench}: benchmarks; {@code moe} times an MoE backend against the peer anchors. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        subcommands = {BenchMoeCommand.class, DecodeBenchCommand.class, dev.moespec.cli.BenchSpecCommand.class},
        description = "Benchmarks on the real device. 'moespec bench moe' times an MoE backend over the anchors' rows; 'moespec bench decode' times decode steps of the demo target.")
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "missing what to benchmark: moespec bench moe");
    }
}
