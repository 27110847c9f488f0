package dev.moespec.api.proposer;

import dev.moespec.api.plugin.PluginLocation;
import dev.moespec.api.plugin.PluginNames;
import dev.moespec.api.proposer.ProposerRegistryException.Problem;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The speculative proposers found on the classpath, by method name. Immutable; fails fast at construction on
 * duplicate or malformed names and on providers that cannot be created, naming the class and its jar.
 * It lists only what is installed: a method appears here once some jar provides it.
 */
public final class ProposerRegistry {

    private static final String SERVICES_FILE = "META-INF/services/" + ProposerProvider.class.getName();
    private static final Pattern LOWER_SNAKE = Pattern.compile("[a-z][a-z0-9]*(?:_[a-z0-9]+)*");

    private final Map<String, ProposerProvider> byMethod;

    private ProposerRegistry(Map<String, ProposerProvider> byMethod) {
        this.byMethod = Collections.unmodifiableMap(byMethod);
    }

    /**
     * Discovers every {@link ProposerProvider} visible to {@code loader}.
     *
     * @throws ProposerRegistryException when a provider cannot be loaded or instantiated, or names clash
     */
    public static ProposerRegistry load(ClassLoader loader) {
        List<ProposerProvider> providers = new ArrayList<>();
        Iterator<ServiceLoader.Provider<ProposerProvider>> it =
                ServiceLoader.load(ProposerProvider.class, loader).stream().iterator();
        while (true) {
            ServiceLoader.Provider<ProposerProvider> candidate;
            try {
                if (!it.hasNext()) break;
                candidate = it.next();
            } catch (ServiceConfigurationError e) {
                // The class named in a services file is missing or is not a ProposerProvider.
                throw new ProposerRegistryException(Problem.PROVIDER_FAILED, "Could not load a proposer plugin: "
                        + e.getMessage() + ". Fix the jar's " + SERVICES_FILE + " or remove the jar from the classpath.", e);
            }
            try {
                providers.add(candidate.get());
            } catch (ServiceConfigurationError e) {
                Throwable cause = rootCause(e);
                throw new ProposerRegistryException(Problem.PROVIDER_FAILED, "Proposer provider "
                        + where(candidate.type()) + " could not be instantiated: " + cause
                        + ". A provider needs a public no-argument constructor that does not throw; fix or remove that jar.", e);
            }
        }
        return of(providers);
    }

    /**
     * A registry of exactly {@code providers} (tests, embedding). Same checks as {@link #load}.
     *
     * @throws ProposerRegistryException on a malformed or duplicate method name
     */
    public static ProposerRegistry of(List<? extends ProposerProvider> providers) {
        Map<String, ProposerProvider> byMethod = new TreeMap<>();
        for (ProposerProvider provider : providers) {
            Objects.requireNonNull(provider, "provider");
            String method = methodOf(provider);
            ProposerProvider previous = byMethod.putIfAbsent(method, provider);
            if (previous != null) {
                throw new ProposerRegistryException(Problem.DUPLICATE_METHOD, "Two proposer providers claim speculative"
                        + " method '" + method + "': " + where(previous.getClass()) + " and " + where(provider.getClass())
                        + ". Remove one of the two jars from the classpath.");
            }
        }
        return new ProposerRegistry(byMethod);
    }

    /** Registered method names, sorted. */
    public List<String> methods() {
        return List.copyOf(byMethod.keySet());
    }

    /** Registered providers, in method-name order. */
    public List<ProposerProvider> providers() {
        return List.copyOf(byMethod.values());
    }

    /** The provider of {@code method}, normalised like vLLM ({@code "NGram"} finds {@code "ngram"}). */
    public Optional<ProposerProvider> find(String method) {
        Objects.requireNonNull(method, "method");
        return Optional.ofNullable(byMethod.get(PluginNames.normalize(method)));
    }

    /**
     * The provider of {@code method}.
     *
     * @throws ProposerRegistryException ({@link Problem#UNKNOWN_METHOD}) listing the available methods and the
     *                                   closest match
     */
    public ProposerProvider require(String method) {
        return find(method).orElseThrow(() -> unknown(method));
    }

    private ProposerRegistryException unknown(String method) {
        StringBuilder message = new StringBuilder("Unknown speculative method '").append(method.strip())
                .append("' (--speculative-config \"method\"). Available: ");
        if (byMethod.isEmpty()) {
            message.append("none (no proposer jar is on the classpath; add moespec-proposers or a proposer plugin jar).");
        } else {
            message.append(String.join(", ", byMethod.keySet())).append('.');
            PluginNames.closest(method, byMethod.keySet()).ifPresent(best -> message.append(" Did you mean '").append(best).append("'?"));
        }
        return new ProposerRegistryException(Problem.UNKNOWN_METHOD, message.toString());
    }

    private static String methodOf(ProposerProvider provider) {
        String method;
        try {
            method = provider.method();
        } catch (RuntimeException e) {
            throw new ProposerRegistryException(Problem.PROVIDER_FAILED, "Proposer provider " + where(provider.getClass())
                    + " threw from method(): " + e + ". Fix or remove that jar.", e);
        }
        if (method == null || !LOWER_SNAKE.matcher(method).matches()) {
            String fix = method == null ? "" : suggestion(method);
            throw new ProposerRegistryException(Problem.INVALID_METHOD_NAME, "Proposer provider "
                    + where(provider.getClass()) + " has method name " + (method == null ? "null" : "'" + method + "'")
                    + ", which is not lower_snake_case (letters, digits and single underscores, starting with a letter,"
                    + " like 'ngram' or 'draft_model')." + fix);
        }
        return method;
    }

    private static String suggestion(String method) {
        String normalized = PluginNames.normalize(method);
        return LOWER_SNAKE.matcher(normalized).matches() ? " Rename it to '" + normalized + "'." : "";
    }

    private static String where(Class<?> type) {
        return type.getName() + " (from " + PluginLocation.of(type) + ")";
    }

    private static Throwable rootCause(Throwable e) {
        Throwable t = e;
        while ((t instanceof ServiceConfigurationError || t instanceof InvocationTargetException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
