package dev.moespec.cuda.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code cuMemHostAlloc} / {@code cuMemFreeHost}, kept apart from {@link DriverLibrary}: page-locked host memory, so
 * that the small per-step copies of a decode loop are real asynchronous DMA instead of staged synchronous copies.
 */
public final class PinnedHostLibrary {
    private record Handles(MethodHandle alloc, MethodHandle free) {}

    private static final class Holder {
        static final Optional<Handles> HANDLES = bind();
    }

    private PinnedHostLibrary() {}

    private static Optional<Handles> bind() {
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(DriverLibrary.LIBRARY, Arena.global());
            Linker l = Linker.nativeLinker();
            var alloc = lookup.find("cuMemHostAlloc").map(a -> l.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT)));
            var free = lookup.find("cuMemFreeHost").map(a -> l.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, JAVA_LONG)));
            return alloc.isPresent() && free.isPresent() ? Optional.of(new Handles(alloc.get(), free.get())) : Optional.empty();
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return Optional.empty();
        }
    }

    public static boolean present() {
        return Holder.HANDLES.isPresent();
    }

    /** Returns the {@code CUresult}; the host pointer goes to {@code out} (an 8-byte segment). */
    public static int alloc(MemorySegment out, long bytes) {
        try {
            return (int) Holder.HANDLES.orElseThrow().alloc().invokeExact(out, bytes, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("unexpected checked exception from cuMemHostAlloc", t);
        }
    }

    public static int free(long pointer) {
        try {
            return (int) Holder.HANDLES.orElseThrow().free().invokeExact(pointer);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("unexpected checked exception from cuMemFreeHost", t);
        }
    }
}
