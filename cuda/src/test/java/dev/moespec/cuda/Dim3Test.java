package dev.moespec.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class Dim3Test {

    @ParameterizedTest
    @CsvSource({"0, 1, 1", "1, 0, 1", "1, 1, 0", "-5, 1, 1"})
    void rejectsEmptyOrNegativeDimensions(int x, int y, int z) {
        var e = assertThrows(IllegalArgumentException.class, () -> Dim3.of(x, y, z));
        assertEquals("grid and block sizes must be >= 1 in every dimension, got (" + x + ", " + y + ", " + z
                + "): skip the launch when there is no work", e.getMessage());
    }

    @Test
    void shorterFactoriesFillOnes() {
        assertEquals(new Dim3(7, 1, 1), Dim3.of(7));
        assertEquals(new Dim3(7, 3, 1), Dim3.of(7, 3));
        assertEquals("(7, 3, 2)", Dim3.of(7, 3, 2).toString());
        assertEquals(42, Dim3.of(7, 3, 2).count());
        assertEquals(4L * Integer.MAX_VALUE, Dim3.of(Integer.MAX_VALUE, 2, 2).count());
    }

    @Test
    void gridForCoversEveryElement() {
        assertEquals(Dim3.of(1), Dim3.gridFor(1, 256));
        assertEquals(Dim3.of(4), Dim3.gridFor(1024, 256));
        assertEquals(Dim3.of(5), Dim3.gridFor(1025, 256));
    }

    @Test
    void gridForRefusesGridsTooLargeAndEmptyWork() {
        var tooLarge = assertThrows(IllegalArgumentException.class, () -> Dim3.gridFor(1L << 40, 32));
        assertEquals("1099511627776 elements need 34359738368 blocks of 32 threads, more than a grid dimension holds (2147483647):"
                + " use a grid-stride loop", tooLarge.getMessage());
        var empty = assertThrows(IllegalArgumentException.class, () -> Dim3.gridFor(0, 32));
        assertEquals("gridFor needs n >= 1 and blockSize >= 1, got n=0, blockSize=32", empty.getMessage());
    }
}
