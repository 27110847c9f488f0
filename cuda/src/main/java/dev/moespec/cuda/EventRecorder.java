package dev.moespec.cuda;

import dev.moespec.cuda.internal.EventRecordLibrary;

import java.util.Objects;

/**
 * Records an event so that it also records inside a captured CUDA graph ({@code CU_EVENT_RECORD_EXTERNAL}): the
 * way to time regions of a replayed graph with {@link CudaEvent#elapsedMillis}. Outside a capture it behaves like
 * {@link CudaEvent#record}.
 */
public final class EventRecorder {
    private EventRecorder() {}

    /**
     * Records {@code event} on {@code stream}, as an event-record node when the stream is being captured.
     *
     * @throws CudaException when the driver refuses (the message names the result code)
     */
    public static void recordExternal(CudaEvent event, CudaStream stream) {
        Objects.requireNonNull(event, "event");
        Objects.requireNonNull(stream, "stream");
        stream.context().makeCurrent();
        int rc = EventRecordLibrary.recordWithFlags(event.handle(), stream.handle(), EventRecordLibrary.RECORD_EXTERNAL);
        if (rc != 0) {
            throw new CudaException("cuEventRecordWithFlags", rc, "CUresult " + rc, "see cuda.h",
                    "recording an external event on " + stream.handle());
        }
    }
}
