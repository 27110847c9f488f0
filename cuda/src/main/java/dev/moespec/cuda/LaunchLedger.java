package dev.moespec.cuda;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts kernel launches by role and kernel image, so a report can prove which plugin's kernels each role ran by
 * counting them rather than by reading the configuration. Every {@link CudaFunction#launch} is counted under the
 * calling thread's current {@linkplain #scope role} and its module's {@linkplain CudaModule#image() image} (the
 * jar's artifactId). A launch made while a {@link CudaGraph} is being captured does not run then; it is counted
 * into that graph instead, and each replay of the graph adds the graph's launches. cuBLAS launches are not ours
 * and are not counted.
 *
 * <p>The role is thread-confined: the generation loop that owns a runner opens the scope around that role's work.
 */
public final class LaunchLedger {
    /** The role launches outside any {@link #scope} are counted under. */
    public static final String UNSCOPED = "unscoped";

    private static final ThreadLocal<String> ROLE = ThreadLocal.withInitial(() -> UNSCOPED);
    private static final ThreadLocal<Map<LaunchCounts.Key, Long>> CAPTURE = new ThreadLocal<>();
    private static final ConcurrentHashMap<LaunchCounts.Key, LongAdder> COUNTS = new ConcurrentHashMap<>();

    private LaunchLedger() {}

    /** Restores the role that was current before the scope opened. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** Counts this thread's launches under {@code role} until the returned scope closes (scopes nest). */
    public static Scope scope(String role) {
        Objects.requireNonNull(role, "role");
        if (role.isBlank()) throw new IllegalArgumentException("a launch scope needs a role name, got a blank one");
        String previous = ROLE.get();
        ROLE.set(role);
        return () -> ROLE.set(previous);
    }

    /** The role this thread's launches are counted under now. */
    public static String currentRole() {
        return ROLE.get();
    }

    /** Every launch counted so far; subtract an earlier snapshot with {@link LaunchCounts#since}. */
    public static LaunchCounts snapshot() {
        Map<LaunchCounts.Key, Long> copy = new HashMap<>();
        COUNTS.forEach((k, v) -> copy.put(k, v.sum()));
        return new LaunchCounts(copy);
    }

    static void launched(CudaModule module) {
        launched(module.image());
    }

    static void launched(String image) {
        LaunchCounts.Key key = new LaunchCounts.Key(ROLE.get(), image);
        Map<LaunchCounts.Key, Long> capture = CAPTURE.get();
        if (capture != null) capture.merge(key, 1L, Long::sum);
        else add(key, 1);
    }

    /** Starts collecting this thread's launches for a graph capture; returns the map they land in. */
    static Map<LaunchCounts.Key, Long> beginCapture() {
        Map<LaunchCounts.Key, Long> tally = new HashMap<>();
        CAPTURE.set(tally);
        return tally;
    }

    static void endCapture() {
        CAPTURE.remove();
    }

    /** One replay of a graph whose capture recorded {@code tally}. */
    static void replayed(Map<LaunchCounts.Key, Long> tally) {
        tally.forEach(LaunchLedger::add);
    }

    private static void add(LaunchCounts.Key key, long n) {
        COUNTS.computeIfAbsent(key, k -> new LongAdder()).add(n);
    }
}
