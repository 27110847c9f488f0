package dev.moespec.api.config;

/**
 * Builds the draft's {@link EngineConfig} from the target's (vLLM PR #37880). The target is never modified,
 * so the draft's backend choice cannot leak into the target and vice versa.
 *
 * <table>
 *   <caption>moe_backend resolution</caption>
 *   <tr><th>target</th><th>spec {@code moe_backend}</th><th>draft</th><th>target after</th></tr>
 *   <tr><td>X</td><td>Y</td><td>Y (override)</td><td>X</td></tr>
 *   <tr><td>X</td><td>unset</td><td>X (inherit)</td><td>X</td></tr>
 *   <tr><td>auto</td><td>unset</td><td>auto</td><td>auto</td></tr>
 *   <tr><td>any</td><td>no spec config</td><td>no-op: the target itself</td><td>unchanged</td></tr>
 * </table>
 */
public final class SpecDecodeConfigs {
    private SpecDecodeConfigs() {}

    /**
     * The config every proposer starts from: a copy of {@code target} with the kernel-level overrides of its
     * speculative config applied (today {@code moe_backend}; unset inherits the target's). Without a
     * speculative config, returns {@code target} itself.
     */
    public static EngineConfig forSpecDecode(EngineConfig target) {
        if (target.speculative().isEmpty()) return target;
        String backend = target.speculative().get().moeBackend().orElse(target.kernel().moeBackend());
        return target.withKernel(target.kernel().withMoeBackend(backend));
    }

    /**
     * {@link #forSpecDecode} plus the draft model's own checkpoint config, quantization (the spec's, else
     * recomputed from the draft checkpoint), parallel config (draft TP, the target's rank) and max length.
     * Without a speculative config, returns {@code target} itself.
     *
     * @throws ConfigException when the method has no draft checkpoint (ngram, or a plugin method without one)
     */
    public static EngineConfig forDraftModel(EngineConfig target) {
        if (target.speculative().isEmpty()) return target;
        SpeculativeConfig spec = target.speculative().get();
        ModelConfig draft = spec.draftModelConfig().orElseThrow(() -> new ConfigException("method '"
                + spec.method() + "' has no draft checkpoint, so there is no draft model config to build;"
                + " use DraftConfigStrategy.FOR_SPEC_DECODE for this proposer, or pass \"model\""));
        EngineConfig base = forSpecDecode(target);
        return new EngineConfig(draft, spec.draftQuant(), spec.draftParallel(target.parallel()), base.kernel(),
                base.speculative(), spec.draftMaxModelLen());
    }
}
