package dev.moespec.proposers.registry;

import dev.moespec.api.proposer.ProposerRegistry;
import dev.moespec.api.proposer.ProposerRegistryException;

import dev.moespec.api.proposer.Proposal;
import dev.moespec.api.proposer.Proposer;
import dev.moespec.api.proposer.ProposerContext;
import dev.moespec.api.proposer.ProposerProvider;

/** Providers that misbehave in the ways the registry must report. Public: ServiceLoader instantiates some of them. */
public final class TestProviders {

    private TestProviders() {}

    /** A provider with any method name, proposing nothing. */
    public static class Named implements ProposerProvider {
        private final String method;

        public Named(String method) {
            this.method = method;
        }

        @Override
        public String method() {
            return method;
        }

        @Override
        public Proposer create(ProposerContext context) {
            return request -> Proposal.tokensOnly(request.tokenHistories().stream().map(h -> new int[0]).toList());
        }
    }

    /** A second jar's "ngram". */
    public static final class OtherNgram extends Named {
        public OtherNgram() {
            super("ngram");
        }
    }

    /** Fails in its constructor, as a provider with a missing native library would. */
    public static final class Exploding extends Named {
        public Exploding() {
            super("exploding");
            throw new IllegalStateException("libfoo.so not found");
        }
    }

    /** Fails when asked its name. */
    public static final class NamelessProvider extends Named {
        public NamelessProvider() {
            super("unused");
        }

        @Override
        public String method() {
            throw new UnsupportedOperationException("config not loaded");
        }
    }
}
