package dev.moespec.proposers.heads;

import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerProvider;

/**
 * {@code "method": "mtp"}: a DeepSeek-style multi-token-prediction layer (found inside or beside the target when
 * no {@code "model"} is given). Its MoE block runs on the draft role's backend binding ({@code "moe_backend"} in
 * the speculative config, else inherited). {@code FOR_SPEC_DECODE}: the layer belongs to the target's model.
 */
public final class MtpProposerProvider implements ProposerProvider {
    public static final String METHOD = "mtp";

    @Override
    public String method() {
        return METHOD;
    }

    @Override
    public String description() {
        return "MTP layer: eh_proj over [norm(embedding), norm(target feature)], one MoE decoder layer on the draft's"
                + " MoE backend, the target's lm_head; its own output feeds the next draft";
    }

    @Override
    public boolean needsDraftModel() {
        return true;
    }

    @Override
    public Proposer create(ProposerContext context) {
        return new FeatureHeadProposer(context, context.openDraftNetwork(DraftNetworkKind.MTP));
    }
}
