package dev.moespec.examples.proposer;

import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerProvider;

/**
 * {@code "method": "suffix"}: a third-party proposer in plain Java, found by the engine through this jar's
 * {@code META-INF/services} line. Model-free, so it keeps the SPI's defaults (no draft checkpoint,
 * {@code FOR_SPEC_DECODE}).
 */
public final class SuffixProposerProvider implements ProposerProvider {
    public static final String METHOD = "suffix";

    @Override
    public String method() {
        return METHOD;
    }

    @Override
    public String description() {
        return "frequency-weighted suffix matching (SuffixDecoding-style): follows the continuation most earlier"
                + " occurrences of the longest matching suffix agree on";
    }

    @Override
    public Proposer create(ProposerContext context) {
        return new SuffixProposer(context.numSpeculativeTokens(), context.maxModelLen());
    }
}
