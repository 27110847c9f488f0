package dev.moespec.engine.spec;

import dev.moespec.api.device.DeviceInfo;
import dev.moespec.api.proposer.DraftHeads;
import dev.moespec.api.proposer.DraftNetwork;
import dev.moespec.api.proposer.DraftNetworkKind;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerSettings;
import dev.moespec.engine.spec.draft.DrafterFactory;

/**
 * The context the engine hands a proposer provider: validated settings, the device the engine runs on (so a
 * proposer with kernels, such as n-gram lookup, uses them there), and drafter networks built on demand.
 */
public record EngineProposerContext(ProposerSettings settings, DrafterFactory drafters, DeviceInfo device)
        implements ProposerContext {

    @Override
    public DraftNetwork openDraftNetwork(DraftNetworkKind kind) {
        return drafters.network(kind);
    }

    @Override
    public DraftHeads openDraftHeads() {
        return drafters.heads();
    }
}
