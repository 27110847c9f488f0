package dev.moespec.api.config;

/**
 * How one model is split over GPUs.
 *
 * @param tensorParallelSize   GPUs a layer is split over (≥ 1)
 * @param pipelineParallelSize pipeline stages (≥ 1)
 * @param rank                 this worker's rank (≥ 0). A draft model keeps the target worker's rank even when
 *                             it runs with TP 1, so the rank is not checked against the world size.
 */
public record ParallelConfig(int tensorParallelSize, int pipelineParallelSize, int rank) {

    public ParallelConfig {
        if (tensorParallelSize < 1) {
            throw new ConfigException("tensor_parallel_size must be >= 1, got " + tensorParallelSize);
        }
        if (pipelineParallelSize < 1) {
            throw new ConfigException("pipeline_parallel_size must be >= 1, got " + pipelineParallelSize);
        }
        if (rank < 0) {
            throw new ConfigException("rank must be >= 0, got " + rank);
        }
    }

    /** One GPU, one stage, rank 0. */
    public static ParallelConfig single() {
        return new ParallelConfig(1, 1, 0);
    }

    public ParallelConfig withTensorParallelSize(int size) {
        return new ParallelConfig(size, pipelineParallelSize, rank);
    }

    public ParallelConfig withRank(int newRank) {
        return new ParallelConfig(tensorParallelSize, pipelineParallelSize, newRank);
    }
}
