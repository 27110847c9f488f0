package dev.moespec.proposers.draft;

import dev.moespec.api.config.DraftConfigStrategy;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerProvider;

/**
 * {@code "method": "draft_model"}: a separate small LM drafts greedily. Its network is built with
 * {@link DraftConfigStrategy#FOR_DRAFT_MODEL}: the draft checkpoint's own model, quantization and parallel
 * configs, and the draft role's MoE backend ({@code "moe_backend"}, else inherited).
 */
public final class DraftModelProposerProvider implements ProposerProvider {
    public static final String METHOD = "draft_model";

    @Override
    public String method() {
        return METHOD;
    }

    @Override
    public String description() {
        return "a separate draft model (\"model\") runs greedily over the committed tokens plus its own drafts,"
                + " with its own KV cache and MoE backend";
    }

    @Override
    public DraftConfigStrategy draftConfigStrategy() {
        return DraftConfigStrategy.FOR_DRAFT_MODEL;
    }

    @Override
    public boolean needsDraftModel() {
        return true;
    }

    @Override
    public Proposer create(ProposerContext context) {
        return new DraftModelProposer(context, context.openDraftNetwork(DraftNetworkKind.DRAFT_MODEL));
    }
}
