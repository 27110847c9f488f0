package dev.moespec.moe.registry;

import dev.moespec.api.plugin.PluginLocation;
import dev.moespec.api.plugin.PluginNames;
import dev.moespec.moe.MoeAutoPolicy;
import dev.moespec.moe.MoeBackendProvider;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The MoE backends and the {@code auto} policy found on the classpath. Immutable; build one per engine (or per
 * test) and pass it on — there is no global instance. Loading fails fast, with a message naming the classes and
 * jars at fault: a provider that cannot be instantiated, a name that is not lower_snake or is the reserved
 * {@code auto}, two providers with one name, two auto policies.
 *
 * <p>Excluded backends (system property {@value #EXCLUDE_PROPERTY}, else environment variable
 * {@value #EXCLUDE_ENV}; comma-separated) stay registered so that reports can say why they were not used;
 * {@link #isExcluded} tells them apart.
 */
public final class MoeBackendRegistry {
    /** The value that asks the resolver to choose; never a provider name. */
    public static final String AUTO = "auto";
    public static final String EXCLUDE_PROPERTY = BackendExclusion.PROPERTY;
    public static final String EXCLUDE_ENV = BackendExclusion.ENV;

    private static final Pattern LOWER_SNAKE = Pattern.compile("[a-z][a-z0-9_]*");
    private static final String WHAT_PROVIDER = "MoE backend provider";
    private static final String WHAT_POLICY = "MoE auto policy";

    private final Map<String, MoeBackendProvider> providers; // sorted by name
    private final MoeAutoPolicy autoPolicy;
    private final BackendExclusion exclusion;
    private final List<String> warnings;

    private MoeBackendRegistry(Map<String, MoeBackendProvider> providers, MoeAutoPolicy autoPolicy,
                               BackendExclusion exclusion, List<String> warnings) {
        this.providers = Collections.unmodifiableMap(providers);
        this.autoPolicy = autoPolicy;
        this.exclusion = exclusion;
        this.warnings = List.copyOf(warnings);
    }

    /** Discovers providers and policies with {@link ServiceLoader}; exclusion from the system property or env. */
    public static MoeBackendRegistry load(ClassLoader loader) {
        return load(loader, System::getenv);
    }

    /** As {@link #load(ClassLoader)}, with the environment looked up through {@code env} (tests). */
    public static MoeBackendRegistry load(ClassLoader loader, Function<String, String> env) {
        return load(loader, System::getProperty, env);
    }

    /** As {@link #load(ClassLoader)}, with system properties and environment looked up through the functions. */
    public static MoeBackendRegistry load(ClassLoader loader, Function<String, String> properties,
                                          Function<String, String> env) {
        List<Located<MoeBackendProvider>> found = discover(MoeBackendProvider.class, loader, WHAT_PROVIDER);
        List<Located<MoeAutoPolicy>> policies = discover(MoeAutoPolicy.class, loader, WHAT_POLICY);
        List<String> warnings = new ArrayList<>();
        warnings.addAll(listedTwice(loader, MoeBackendProvider.class));
        warnings.addAll(listedTwice(loader, MoeAutoPolicy.class));
        return build(found, policies, BackendExclusion.fromSettings(properties, env), warnings);
    }

    /** A registry over the given instances (tests, embedding); locations are taken from their classes. */
    public static MoeBackendRegistry of(List<? extends MoeBackendProvider> providers, List<? extends MoeAutoPolicy> policies,
                                        Set<String> excluded) {
        return build(providers.stream().map(Located::of).toList(), policies.stream().map(Located::of).toList(),
                BackendExclusion.of(excluded), new ArrayList<>());
    }

    /** Every registered provider, excluded ones included, sorted by name. */
    public List<MoeBackendProvider> providers() {
        return List.copyOf(providers.values());
    }

    /** Every registered provider name, sorted. */
    public Set<String> names() {
        return Collections.unmodifiableSet(new TreeSet<>(providers.keySet()));
    }

    /** The provider called {@code name} (normalised), excluded or not. */
    public Optional<MoeBackendProvider> find(String name) {
        return Optional.ofNullable(providers.get(PluginNames.normalize(name)));
    }

    /**
     * The provider called {@code name}.
     *
     * @param source where the name came from, for the message ({@code --moe-backend})
     * @throws UnknownMoeBackendException listing the available names and the closest match
     * @throws MoeBackendRegistryException for {@code auto}, which the resolver handles and no provider implements
     */
    public MoeBackendProvider require(String name, String source) {
        String normalized = PluginNames.normalize(name);
        if (normalized.equals(AUTO)) {
            throw new MoeBackendRegistryException("'auto' (" + source + ") is not a backend but a request to choose one; "
                    + "resolve it with MoeBackendResolver");
        }
        MoeBackendProvider provider = providers.get(normalized);
        if (provider == null) {
            List<String> available = new ArrayList<>(providers.keySet());
            available.add(AUTO);
            Collections.sort(available);
            throw new UnknownMoeBackendException(name.strip(), source, available, PluginNames.closest(name, available));
        }
        return provider;
    }

    public boolean isExcluded(String name) {
        return exclusion.names().contains(PluginNames.normalize(name));
    }

    /** The excluded names, normalised. */
    public Set<String> excluded() {
        return exclusion.names();
    }

    /** For messages: {@code excluded by -Dmoespec.moe.exclude=triton}, or {@code nothing excluded}. */
    public String exclusionSource() {
        return exclusion.describe();
    }

    public Optional<MoeAutoPolicy> autoPolicy() {
        return Optional.ofNullable(autoPolicy);
    }

    /** Problems that do not stop loading: excluding a name no jar provides, a class listed by two jars. */
    public List<String> warnings() {
        return warnings;
    }

    private static MoeBackendRegistry build(List<Located<MoeBackendProvider>> found, List<Located<MoeAutoPolicy>> policies,
                                            BackendExclusion exclusion, List<String> warnings) {
        Map<String, Located<MoeBackendProvider>> byName = new TreeMap<>();
        for (Located<MoeBackendProvider> p : found) {
            String name = nameOf(p);
            Located<MoeBackendProvider> previous = byName.putIfAbsent(name, p);
            if (previous != null) {
                throw new DuplicateMoeBackendException(name, List.of(previous.location(), p.location()),
                        "Two " + WHAT_PROVIDER + "s are named '" + name + "': " + previous.describe() + " and " + p.describe()
                                + ". Remove one of the two jars from the classpath.");
            }
        }
        if (policies.size() > 1) {
            Located<MoeAutoPolicy> a = policies.get(0), b = policies.get(1);
            throw new DuplicateMoeBackendException(AUTO, List.of(a.location(), b.location()),
                    "More than one " + WHAT_POLICY + " is on the classpath: " + policyName(a) + " " + a.describe() + " and "
                            + policyName(b) + " " + b.describe() + ". --moe-backend auto needs exactly one ranking; "
                            + "remove one of the two jars from the classpath.");
        }
        for (String excluded : exclusion.names()) {
            if (excluded.equals(AUTO)) {
                warnings.add(exclusion.source() + " names 'auto', which is not a backend and cannot be excluded; "
                        + "pin a backend with --moe-backend instead.");
            } else if (!byName.containsKey(excluded)) {
                warnings.add(exclusion.source() + " names '" + excluded + "', which no jar provides (registered: "
                        + String.join(", ", byName.keySet()) + ")."
                        + PluginNames.closest(excluded, byName.keySet()).map(s -> " Did you mean '" + s + "'?").orElse(""));
            }
        }
        Map<String, MoeBackendProvider> providers = new TreeMap<>();
        byName.forEach((name, p) -> providers.put(name, p.instance()));
        return new MoeBackendRegistry(providers, policies.isEmpty() ? null : policies.getFirst().instance(), exclusion, warnings);
    }

    private static String nameOf(Located<MoeBackendProvider> p) {
        String name;
        try {
            name = p.instance().name();
        } catch (RuntimeException e) {
            throw new MoeBackendRegistryException(WHAT_PROVIDER + " " + p.describe() + " threw from name(): " + e
                    + ". Fix or remove that jar.", e);
        }
        if (name == null || !LOWER_SNAKE.matcher(name).matches()) {
            throw new MoeBackendRegistryException(WHAT_PROVIDER + " " + p.describe() + " has the name "
                    + (name == null ? "null" : "'" + name + "'") + ", which is not lower_snake ([a-z][a-z0-9_]*)"
                    + (name == null || name.isBlank() ? "" : "; use '" + PluginNames.normalize(name).replaceAll("[^a-z0-9_]", "_") + "'")
                    + ".");
        }
        if (name.equals(AUTO)) {
            throw new MoeBackendRegistryException(WHAT_PROVIDER + " " + p.describe() + " uses the reserved name 'auto', "
                    + "which asks moespec to choose a backend. Rename the provider, or implement MoeAutoPolicy to change how auto ranks backends.");
        }
        return name;
    }

    private static String policyName(Located<MoeAutoPolicy> p) {
        try {
            return "'" + p.instance().name() + "'";
        } catch (RuntimeException e) {
            return "<name() threw " + e.getClass().getSimpleName() + ">";
        }
    }

    private static <T> List<Located<T>> discover(Class<T> service, ClassLoader loader, String what) {
        List<Located<T>> found = new ArrayList<>();
        Iterator<ServiceLoader.Provider<T>> it = ServiceLoader.load(service, loader).stream().iterator();
        while (true) {
            ServiceLoader.Provider<T> provider;
            try {
                if (!it.hasNext()) break;
                provider = it.next();
            } catch (ServiceConfigurationError e) {
                List<String> broken = ServiceFiles.unloadable(loader, service);
                throw new MoeBackendRegistryException("Cannot load a " + what + " listed in META-INF/services/" + service.getName()
                        + ": " + e.getMessage() + (broken.isEmpty() ? "" : ". Unloadable entries: " + String.join("; ", broken))
                        + ". Fix the services file or remove the jar that lists it.", e);
            }
            Class<? extends T> type = provider.type();
            try {
                found.add(new Located<>(provider.get(), PluginLocation.of(type)));
            } catch (ServiceConfigurationError | RuntimeException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                throw new MoeBackendRegistryException(what + " " + type.getName() + " (from " + PluginLocation.of(type)
                        + ") failed to instantiate: " + cause + ". Fix or remove that jar.", e);
            }
        }
        return found;
    }

    private static List<String> listedTwice(ClassLoader loader, Class<?> service) {
        List<String> warnings = new ArrayList<>();
        ServiceFiles.listings(loader, service).forEach((className, where) -> {
            if (new TreeSet<>(where).size() > 1) {
                warnings.add(className + " is listed by " + where.size() + " jars (" + String.join(", ", where)
                        + "); only the first on the classpath is loaded. Remove the duplicate jar.");
            }
        });
        return warnings;
    }

    /** A discovered plugin and the jar it came from. */
    private record Located<T>(T instance, String location) {
        static <T> Located<T> of(T instance) {
            return new Located<>(instance, PluginLocation.of(instance.getClass()));
        }

        String describe() {
            return instance.getClass().getName() + " (from " + location + ")";
        }
    }
}
