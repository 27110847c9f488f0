package dev.moespec.engine.loader;

import dev.moespec.api.config.ModelConfig;
import dev.moespec.api.tensor.DType;

import java.util.Locale;
import java.util.Optional;

/**
 * The tensors an architecture needs, checked when a checkpoint opens so that a missing or misshapen weight is an
 * error naming it, not a crash in the middle of a forward pass.
 */
public interface CheckpointLayout {

    /** @throws CheckpointException naming the first missing or misshapen tensor */
    void validate(Checkpoint checkpoint);

    /** Accepts any set of tensors (for tools that only inspect headers). */
    CheckpointLayout ANY = c -> {};

    /** The layout of {@code config}'s architecture. */
    static CheckpointLayout of(ModelConfig config) {
        return switch (config.modelType().toLowerCase(Locale.ROOT)) {
            case "qwen3_moe" -> new MoeDecoderLayout(MoeDecoderLayout.Naming.QWEN3_MOE);
            case "mixtral" -> new MoeDecoderLayout(MoeDecoderLayout.Naming.MIXTRAL);
            default -> throw new CheckpointException(config.configFile(), null, "model_type '" + config.modelType()
                    + "' is not supported; supported: qwen3_moe, mixtral");
        };
    }

    /** A weight matrix {@code [rows, cols]}: either BF16/F16/F32, or F8_E4M3 with its F32 block {@code _scale_inv}. */
    static void requireMatrix(Checkpoint c, String name, long rows, long cols) {
        var t = c.tensor(name, rows, cols);
        if (t.dtype() == DType.FP8_E4M3) {
            String scale = name + "_scale_inv";
            var s = c.tensor(scale, ceil128(rows), ceil128(cols));
            if (s.dtype() != DType.F32) {
                throw new CheckpointException(c.fileOf(scale), scale, "must be F32, got " + s.dtype());
            }
        } else {
            requireFloat(c, name);
        }
    }

    /** A BF16, F16 or F32 tensor of {@code shape}. */
    static void requireVector(Checkpoint c, String name, long... shape) {
        c.tensor(name, shape);
        requireFloat(c, name);
    }

    private static void requireFloat(Checkpoint c, String name) {
        DType d = c.tensor(name).dtype();
        if (d != DType.BF16 && d != DType.F16 && d != DType.F32) {
            throw new CheckpointException(c.fileOf(name), name, "has dtype " + d + "; expected BF16, F16 or F32"
                    + (d == DType.FP8_E4M3 ? " (FP8 weights need a '" + name + "_scale_inv' companion)" : ""));
        }
    }

    private static long ceil128(long n) {
        return (n + 127) / 128;
    }

    /** Whether {@code name} is FP8 in {@code c}. */
    static Optional<DType> dtypeOf(Checkpoint c, String name) {
        return c.entry(name).map(TensorEntry::dtype);
    }
}
