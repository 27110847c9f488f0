package dev.moespec.proposers.ngram;

import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerProvider;

/**
 * {@code "method": "ngram"}: prompt lookup (on the GPU when the engine runs on one, else the CPU), no draft model. Keeps the SPI's default
 * {@code FOR_SPEC_DECODE} config strategy: there is no drafter network whose config would matter.
 */
public final class NgramProposerProvider implements ProposerProvider {

    /** The method name users write in {@code --speculative-config}. */
    public static final String METHOD = "ngram";

    @Override
    public String method() {
        return METHOD;
    }

    @Override
    public String description() {
        return "prompt lookup: proposes the tokens that followed the most recent earlier occurrence of the longest"
                + " suffix n-gram in [prompt_lookup_min, prompt_lookup_max] (GPU or CPU, no draft model)";
    }

    @Override
    public Proposer create(ProposerContext context) {
        return new NgramProposer(context);
    }
}
