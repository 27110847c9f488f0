package dev.moespec.engine.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The host-side split of a feature head's {@code [h, 2h]} combine weight into its two GEMM halves. */
class DeviceArraysTest {

    @Test
    void columnsCutsAContiguousBlockOfColumnsFromEachRow() {
        float[] m = {
                1, 2, 3, 4,
                5, 6, 7, 8,
                9, 10, 11, 12};
        assertArrayEquals(new float[] {1, 2, 5, 6, 9, 10}, DeviceArrays.columns(m, 3, 4, 0, 2));
        assertArrayEquals(new float[] {3, 4, 7, 8, 11, 12}, DeviceArrays.columns(m, 3, 4, 2, 2));
    }

    @Test
    void concatStacksThePartsInOrder() {
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, DeviceArrays.concat(new float[] {1, 2}, new float[] {3},
                new float[0], new float[] {4, 5, 6}));
    }

    @Test
    void theTwoHalvesTimesTheirInputsSumToTheWholeProduct() {
        // z = [e | f]·Wᵀ equals e·Eᵀ + f·Fᵀ for the column halves E, F of W: what the GPU head computes
        int h = 3;
        float[] w = new float[h * 2 * h];
        for (int i = 0; i < w.length; i++) w[i] = (i * 7 % 11) - 5;
        float[] e = {1, -2, 3}, f = {0.5f, 4, -1};
        float[] e2 = DeviceArrays.columns(w, h, 2 * h, 0, h), f2 = DeviceArrays.columns(w, h, 2 * h, h, h);
        for (int j = 0; j < h; j++) {
            float whole = 0, split = 0;
            for (int i = 0; i < h; i++) {
                whole += e[i] * w[j * 2 * h + i] + f[i] * w[j * 2 * h + h + i];
                split += e[i] * e2[j * h + i] + f[i] * f2[j * h + i];
            }
            assertArrayEquals(new float[] {whole}, new float[] {split}, 1e-5f);
        }
    }
}
