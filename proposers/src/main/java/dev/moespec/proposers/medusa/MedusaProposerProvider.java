package dev.moespec.proposers.medusa;

import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerProvider;

/** {@code "method": "medusa"}: Medusa heads over the target's final-normed state, top-1 chain, k ≤ heads. */
public final class MedusaProposerProvider implements ProposerProvider {
    public static final String METHOD = "medusa";

    @Override
    public String method() {
        return METHOD;
    }

    @Override
    public String description() {
        return "Medusa heads (\"model\"): head i reads the target's normed state and proposes the token i+2 ahead"
                + " (top-1 chain, k <= number of heads)";
    }

    @Override
    public boolean needsDraftModel() {
        return true;
    }

    @Override
    public Proposer create(ProposerContext context) {
        return new MedusaProposer(context, context.openDraftHeads());
    }
}
