package dev.moespec.cuda.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class DriverLibraryTest {

    @Test
    void missingLibraryIsAReasonNotALinkError() {
        DriverLoad load = DriverLibrary.load("libmoespec-no-such-driver.so.1");
        assertEquals(new DriverLoad.Missing("libmoespec-no-such-driver.so.1 not found (no NVIDIA driver on this machine)"), load);
    }

    @Test
    void libraryWithoutDriverSymbolsIsAReasonNamingTheSymbol() {
        // libc loads fine but exports no CUDA function: the first one looked up is named.
        DriverLoad load = DriverLibrary.load("libc.so.6");
        assertEquals(new DriverLoad.Missing("libc.so.6 has no symbol cuGetErrorName: it is not the CUDA driver, or the driver is"
                + " too old (moespec needs a CUDA 12 or newer driver)"), load);
    }

    @Test
    void processWideLoadHappensOnce() {
        assertSame(DriverLibrary.get(), DriverLibrary.get());
    }
}
