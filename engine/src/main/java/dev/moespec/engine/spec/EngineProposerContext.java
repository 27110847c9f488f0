package dev.moespec.engine.spec;

import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.engine.spec.draft.DrafterFactory;

/** The context the engine hands a proposer provider: validated settings, and drafter networks built on demand. */
public record EngineProposerContext(ProposerSettings settings, DrafterFactory drafters) implements ProposerContext {

    @Override
    public DraftNetwork openDraftNetwork(DraftNetworkKind kind) {
        return drafters.network(kind);
    }

    @Override
    public DraftHeads openDraftHeads() {
        return drafters.heads();
    }
}
