package dev.moespec.api.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;

import static dev.moespec.api.config.SpeculativeMethods.DRAFT_MODEL;
import static dev.moespec.api.config.SpeculativeMethods.EAGLE;
import static dev.moespec.api.config.SpeculativeMethods.EAGLE3;
import static dev.moespec.api.config.SpeculativeMethods.MEDUSA;
import static dev.moespec.api.config.SpeculativeMethods.MTP;
import static dev.moespec.api.config.SpeculativeMethods.NGRAM;

/**
 * vLLM's {@code SpeculativeConfig.__post_init__} and {@code _verify_args} (vllm-spec.md §1.3–1.4) for the
 * built-in methods. Where vLLM has an error text, it is reproduced verbatim.
 */
final class SpeculativeConfigResolver {
    private static final Pattern METHOD_NAME = Pattern.compile("[a-z0-9_]+");
    private static final int NGRAM_DEFAULT_LOOKUP = 5;

    private final SpeculativeSpec spec;
    private final EngineConfig target;
    private final Path workingDirectory;
    private final List<String> warnings = new ArrayList<>();

    SpeculativeConfigResolver(SpeculativeSpec spec, EngineConfig target, Path workingDirectory) {
        this.spec = spec;
        this.target = target;
        this.workingDirectory = workingDirectory;
    }

    SpeculativeConfig resolve() {
        checkFieldBounds();
        boolean inferred = spec.method().isEmpty();
        String method = inferMethod();
        if (!method.equals(MTP) && SpeculativeMethods.isModelSpecificMtp(method)) {
            warnings.add("method `" + method + "` is deprecated and replaced with mtp.");
            method = MTP;
        }
        Optional<String> model = spec.model();
        if (model.isPresent() && model.get().isBlank()) {
            throw new ConfigException("\"model\" in --speculative-config is empty; pass a checkpoint directory or \"ngram\"");
        }
        if (model.isEmpty() && SpeculativeMethods.usesCheckpoint(method) && !method.equals(MTP)) {
            if (spec.numSpeculativeTokens().isPresent()) {
                throw new ConfigException("num_speculative_tokens was provided but without speculative model.");
            }
            throw new ConfigException("method '" + method + "' needs \"model\" in --speculative-config:"
                    + " the path of the draft checkpoint");
        }
        if (method.equals(NGRAM)) return ngram();
        if (!SpeculativeMethods.usesCheckpoint(method)) return plugin(method, model);

        // MTP without a model: its weights are inside or beside the target.
        Path dir = model.isEmpty() ? DraftLocator.locateMtp(target.model())
                : DraftLocator.resolveModelPath(model.get(), workingDirectory, target.model());
        ModelConfig draft = ModelConfig.load(dir);
        if (inferred) method = detectMethod(draft);
        return modelBacked(method, draft);
    }

    /** The pydantic field constraints ({@code gt=0}, {@code ge=1}) and the trap field, before anything else. */
    private void checkFieldBounds() {
        if (spec.tensorParallelSize().isPresent()) {
            throw new ConfigException("'tensor_parallel_size' is not a valid argument in the speculative_config."
                    + " Please pass 'draft_tensor_parallel_size' instead.");
        }
        OptionalInt k = spec.numSpeculativeTokens();
        if (k.isPresent() && k.getAsInt() <= 0) {
            throw new ConfigException("Expected num_speculative_tokens to be greater than zero (" + k.getAsInt() + ").");
        }
        atLeastOne("draft_tensor_parallel_size", spec.draftTensorParallelSize());
        atLeastOne("max_model_len", spec.maxModelLen());
        lookupAtLeastOne("prompt_lookup_min", spec.promptLookupMin());
        lookupAtLeastOne("prompt_lookup_max", spec.promptLookupMax());
    }

    private String inferMethod() {
        if (spec.method().isPresent()) {
            String m = spec.method().get();
            if (!METHOD_NAME.matcher(m).matches()) {
                throw new ConfigException("Unsupported speculative method: '" + m + "'; use one of "
                        + SpeculativeMethods.BUILT_IN + " or a proposer plugin's lower_snake name");
            }
            return m;
        }
        if (spec.model().isEmpty()) {
            if (spec.numSpeculativeTokens().isPresent()) {
                throw new ConfigException("num_speculative_tokens was provided but without speculative model.");
            }
            throw new ConfigException("--speculative-config needs \"method\" or \"model\", e.g."
                    + " '{\"method\": \"ngram\", \"num_speculative_tokens\": 3}'");
        }
        String model = spec.model().get().strip();
        return model.equals("ngram") || model.equals("[ngram]") ? NGRAM : DRAFT_MODEL;
    }

    /** Refines an inferred {@code draft_model} from the draft checkpoint (vLLM's auto-detection). */
    private String detectMethod(ModelConfig draft) {
        String type = draft.modelType().toLowerCase(Locale.ROOT);
        String name = draft.name().toLowerCase(Locale.ROOT);
        if (type.equals("medusa")) return MEDUSA;
        if (type.contains("eagle3") || name.contains("eagle3")) return EAGLE3;
        if (type.contains("eagle") || name.contains("eagle")) return EAGLE;
        if (type.equals(MTP) || type.endsWith("_mtp")) return MTP;
        return DRAFT_MODEL;
    }

    private SpeculativeConfig ngram() {
        int k = requireKWithoutModel();
        OptionalInt min = spec.promptLookupMin();
        OptionalInt max = spec.promptLookupMax();
        int lo = min.orElse(max.orElse(NGRAM_DEFAULT_LOOKUP));
        int hi = max.orElse(min.orElse(NGRAM_DEFAULT_LOOKUP));
        if (lo > hi) {
            throw new ConfigException("prompt_lookup_min=" + lo + " must be <= prompt_lookup_max=" + hi);
        }
        return new SpeculativeConfig(NGRAM, Optional.of(NGRAM), k, spec.moeBackend(), spec.quantization(),
                draftTensorParallelSize(), maxModelLen(target.maxModelLen()), lo, hi, Optional.empty(),
                quantWithoutCheckpoint(NGRAM), warnings, siblingDrafts(NGRAM));
    }

    /** A proposer plugin's method: no method-specific rules; a {@code model} that names a checkpoint is loaded. */
    private SpeculativeConfig plugin(String method, Optional<String> model) {
        int k = requireKWithoutModel();
        Optional<ModelConfig> checkpoint = model
                .flatMap(m -> DraftLocator.tryResolveModelPath(m, workingDirectory, target.model()))
                .filter(dir -> Files.isRegularFile(dir.resolve(ModelConfig.CONFIG_FILE)))
                .map(ModelConfig::load);
        int ownLimit = checkpoint.map(ModelConfig::maxPositionEmbeddings).orElse(target.maxModelLen());
        QuantConfig quant = checkpoint.isPresent() ? draftQuant(checkpoint.get()) : quantWithoutCheckpoint(method);
        return new SpeculativeConfig(method, checkpoint.map(c -> c.path().toString()).or(() -> model), k,
                spec.moeBackend(), spec.quantization(), draftTensorParallelSize(), maxModelLen(ownLimit), 0, 0,
                checkpoint, quant, warnings, siblingDrafts(method));
    }

    private SpeculativeConfig modelBacked(String method, ModelConfig draft) {
        // EAGLE heads reuse the target's positions: vLLM raises their max length to the target's.
        int draftOwnLimit = draft.maxPositionEmbeddings();
        if ((method.equals(EAGLE) || method.equals(EAGLE3)) && draftOwnLimit < target.maxModelLen()) {
            draftOwnLimit = target.maxModelLen();
        }
        int k = numSpeculativeTokens(method, draft);
        int tp = draftTensorParallelSize();
        int maxLen = maxModelLen(draftOwnLimit);
        if (method.equals(DRAFT_MODEL) && draft.vocabSize() != target.model().vocabSize()) {
            throw new ConfigException("Target and draft model should have the same vocabulary size. Target model"
                    + " vocab_size=" + target.model().vocabSize() + ". Draft model vocab_size=" + draft.vocabSize()
                    + ". Using models with different tokenizers can cause out-of-bounds errors during speculative"
                    + " decoding.");
        }
        return new SpeculativeConfig(method, Optional.of(draft.path().toString()), k, spec.moeBackend(),
                spec.quantization(), tp, maxLen, 0, 0,
                Optional.of(draft), draftQuant(draft), warnings, siblingDrafts(method));
    }

    private int numSpeculativeTokens(String method, ModelConfig draft) {
        OptionalInt nPredict = draft.nPredict();
        OptionalInt k = spec.numSpeculativeTokens();
        if (nPredict.isPresent()) {
            int n = nPredict.getAsInt();
            if (k.isEmpty()) return n;
            int given = k.getAsInt();
            if (given > n && given % n != 0) {
                throw new ConfigException("num_speculative_tokens:" + given + " must be divisible by n_predict=" + n);
            }
            if (method.equals(MTP) && n == 1 && given > 1) {
                warnings.add("num_speculative_tokens=" + given + " with a single MTP layer runs that layer " + given
                        + " times per step, which may lower the acceptance rate");
            }
            return given;
        }
        if (k.isEmpty()) {
            throw new ConfigException("A speculative model was provided, but `num_speculative_tokens` was not provided");
        }
        return k.getAsInt();
    }

    private int requireKWithoutModel() {
        return spec.numSpeculativeTokens().orElseThrow(() -> new ConfigException("num_speculative_tokens must be"
                + " provided with speculative model unless the draft model config contains an n_predict parameter."));
    }

    /**
     * {@code sibling_drafts}: 0 unless given; more only for the feature heads whose greedy rounds run fused on the GPU
     * (eagle, mtp), which draft a sibling from the same logits as the chain draft. The bound by K is the record's.
     */
    private int siblingDrafts(String method) {
        int s = spec.siblingDrafts().orElse(0);
        if (s < 0) throw new ConfigException("sibling_drafts in --speculative-config must be >= 0, got " + s);
        if (s > 0 && !method.equals(EAGLE) && !method.equals(MTP)) {
            throw new ConfigException("sibling_drafts applies to eagle and mtp (the head's second choice beside each chain"
                    + " draft); method '" + method + "' drafts chains only: drop \"sibling_drafts\"");
        }
        return s;
    }

    /** vLLM's {@code _verify_and_get_draft_tp}: unset → the target's TP; else 1 or the target's TP. */
    private int draftTensorParallelSize() {
        int targetTp = target.parallel().tensorParallelSize();
        int tp = spec.draftTensorParallelSize().orElse(targetTp);
        if (tp != 1 && tp != targetTp) {
            throw new ConfigException("speculative_draft_tensor_parallel_size=" + tp
                    + " cannot be other value than 1 or target model tensor_parallel_size");
        }
        return tp;
    }

    /** vLLM's {@code _maybe_override_draft_max_model_len}. */
    private int maxModelLen(int draftLimit) {
        int targetLimit = target.maxModelLen();
        if (spec.maxModelLen().isEmpty()) return Math.min(draftLimit, targetLimit);
        int len = spec.maxModelLen().getAsInt();
        if (len > draftLimit) {
            throw new ConfigException("speculative_max_model_len=" + len
                    + " cannot be larger than draft_max_model_len=" + draftLimit);
        }
        if (len > targetLimit) {
            throw new ConfigException("speculative_max_model_len=" + len
                    + " cannot be larger than target_max_model_len=" + targetLimit);
        }
        return len;
    }

    /** The spec's {@code quantization}, else recomputed from the checkpoint (not the target's: vllm#37667). */
    private QuantConfig draftQuant(ModelConfig checkpoint) {
        return QuantConfig.forName(spec.quantization().orElse(null), checkpoint);
    }

    private QuantConfig quantWithoutCheckpoint(String method) {
        spec.quantization().ifPresent(q -> {
            QuantConfig.checkName(q);
            warnings.add("quantization '" + q + "' is ignored: method '" + method + "' has no draft checkpoint");
        });
        return target.quant();
    }

    private void atLeastOne(String key, OptionalInt value) {
        if (value.isPresent() && value.getAsInt() < 1) {
            throw new ConfigException(key + " in --speculative-config must be >= 1, got " + value.getAsInt());
        }
    }

    private void lookupAtLeastOne(String key, OptionalInt value) {
        if (value.isPresent() && value.getAsInt() < 1) {
            throw new ConfigException(key + "=" + value.getAsInt() + " must be > 0");
        }
    }
}
