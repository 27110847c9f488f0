package dev.moespec.api.proposer;

import dev.moespec.api.config.DraftConfigStrategy;

/**
 * A speculative-decoding proposer (drafter), discovered with {@link java.util.ServiceLoader}: a jar lists its
 * provider class in {@code META-INF/services/dev.moespec.api.proposer.ProposerProvider}. Plain Java; no DI
 * framework is needed, and the provider needs a public no-argument constructor.
 *
 * <p>Evolvable like Jackson's {@code Module}: new hooks arrive as default methods, so a provider written
 * against an older SPI keeps compiling and running.
 */
public interface ProposerProvider {

    /**
     * The unique, lower_snake name that selects this proposer in {@code --speculative-config "method"}
     * ({@code "ngram"}, {@code "draft_model"}). Never {@code null}.
     */
    String method();

    /** One line for {@code plan} and registry listings. */
    default String description() {
        return method();
    }

    /**
     * Which spec-decode config builder the engine uses for this proposer's drafter: a separate draft model
     * ({@code draft_model}) returns {@link DraftConfigStrategy#FOR_DRAFT_MODEL}; heads living on the target
     * (EAGLE, MTP, Medusa) and model-free proposers keep the default {@link DraftConfigStrategy#FOR_SPEC_DECODE}.
     */
    default DraftConfigStrategy draftConfigStrategy() {
        return DraftConfigStrategy.FOR_SPEC_DECODE;
    }

    /**
     * Whether the engine must load a draft checkpoint ({@code "model"} in {@code --speculative-config}) before
     * calling {@link #create}. {@code false} for model-free proposers such as {@code ngram}.
     */
    default boolean needsDraftModel() {
        return false;
    }

    /**
     * Creates a proposer for one engine instance. Everything it may use arrives in {@code context}; a proposer
     * never reads global state.
     *
     * @throws IllegalArgumentException when the context's settings cannot be served, naming the setting and the fix
     */
    Proposer create(ProposerContext context);
}
