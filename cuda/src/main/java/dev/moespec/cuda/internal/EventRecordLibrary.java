package dev.moespec.cuda.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code cuEventRecordWithFlags} (CUDA 11.1+), kept apart from {@link DriverLibrary}: with
 * {@code CU_EVENT_RECORD_EXTERNAL} an event recorded while a stream is captured becomes an event-record node of
 * the graph, so every replay records it (a plain record during capture only marks a dependency). Per-region
 * device timing of a replayed decode step needs exactly that.
 */
public final class EventRecordLibrary {
    /** {@code CU_EVENT_RECORD_EXTERNAL}. */
    public static final int RECORD_EXTERNAL = 1;

    private static final class Holder {
        static final Optional<MethodHandle> HANDLE = bind();
    }

    private EventRecordLibrary() {}

    private static Optional<MethodHandle> bind() {
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(DriverLibrary.LIBRARY, Arena.global());
            return lookup.find("cuEventRecordWithFlags").map(a -> Linker.nativeLinker()
                    .downcallHandle(a, FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT)));
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return Optional.empty();
        }
    }

    /** Whether the driver exports it. */
    public static boolean present() {
        return Holder.HANDLE.isPresent();
    }

    /** Calls it and returns the {@code CUresult}; the caller makes the context current first. */
    public static int recordWithFlags(long event, long stream, int flags) {
        MethodHandle h = Holder.HANDLE.orElseThrow(() -> new IllegalStateException(
                "this CUDA driver has no cuEventRecordWithFlags (CUDA 11.1 or newer is needed)"));
        try {
            return (int) h.invokeExact(event, stream, flags);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("unexpected checked exception from cuEventRecordWithFlags", t);
        }
    }
}
