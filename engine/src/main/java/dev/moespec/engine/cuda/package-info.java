/**
 * The CUDA forward pass: {@link dev.moespec.engine.cuda.CudaMoeModel} behind the engine's {@code ModelRunner}.
 *
 * <ul>
 *   <li>Dense GEMMs (fused QKV, O, router, lm_head) through cuBLAS ({@code dev.moespec.cuda.Cublas}, FFM downcalls,
 *       {@code cublasGemmEx}, fp32 accumulation): BF16 inputs for the projections and lm_head, fp32 for the
 *       router, fp32 outputs; the O projection accumulates straight into the fp32 residual stream.</li>
 *   <li>Our kernels ({@code engine/src/main/cuda/decoder.cu}, fatbin {@code moespec-engine}): embedding gather,
 *       RMSNorm (+ the MoE output added into the residual), q/k-norm + RoPE + paged-KV append, GQA attention over
 *       the paged fp32 KV cache (one kernel for decode and prefill, head_dim up to 256), sampling (greedy; temperature
 *       / top-k / top-p with a host-drawn uniform, by threshold bisection, so any vocabulary size works).</li>
 *   <li>MoE layers through the role's kernels (its binding), on device tensors: BF16 hidden in and out, fp32
 *       router logits.</li>
 *   <li>Batched steps: several sequences of different lengths in one step; decode steps padded to a bucket
 *       (1..64) replay a CUDA graph captured on the bucket's first step.</li>
 *   <li>Per-step host staging is page-locked, so the metadata upload and the token read-back are asynchronous copies.</li>
 * </ul>
 *
 * {@link dev.moespec.engine.cuda.CudaRunners} says why the runner cannot be used here (no GPU, no cuBLAS, kernels
 * not built) and builds it for a role.
 */
package dev.moespec.engine.cuda;
