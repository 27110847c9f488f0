package dev.moespec.engine.model;

/** Indices of the k largest values, largest first (ties: lower index first). */
public final class TopK {
    private TopK() {}

    public static int[] indices(float[] v, int k) {
        int[] out = new int[k];
        boolean[] taken = new boolean[v.length];
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int n = 0; n < v.length; n++) {
                if (!taken[n] && (best < 0 || v[n] > v[best])) best = n;
            }
            taken[best] = true;
            out[j] = best;
        }
        return out;
    }
}
