package dev.moespec.proposers.heads;

import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerProvider;

/**
 * {@code "method": "eagle"}: an EAGLE-1 head fed the target's hidden states, autoregressive for k &gt; 1. Keeps
 * {@code FOR_SPEC_DECODE}: the head lives on the target's config (its dense layer has no MoE backend to choose).
 */
public final class EagleProposerProvider implements ProposerProvider {
    public static final String METHOD = "eagle";

    @Override
    public String method() {
        return METHOD;
    }

    @Override
    public String description() {
        return "EAGLE-1 head (\"model\"): fc over [embedding, target feature], one dense decoder layer, the target's"
                + " norm and lm_head; its own output feeds the next draft";
    }

    @Override
    public boolean needsDraftModel() {
        return true;
    }

    @Override
    public Proposer create(ProposerContext context) {
        return new FeatureHeadProposer(context, context.openDraftNetwork(DraftNetworkKind.EAGLE));
    }
}
