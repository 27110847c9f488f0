// Dynamic FP8 (e4m3) activation quantisation for triton's FP8 w8a8 layers, as the CPU reference's
// ActivationQuantizer defines it: scale = amax / 448 (1 for an all-zero range), q = rne_e4m3(x / scale).
// FP8_PER_TENSOR takes one scale over the whole [rows, cols] tensor, FP8_PER_CHANNEL one per row (token).
// FP8_BLOCK_128 (on the dequantise-at-load path) takes one scale per row per group of 128 columns.
// out_code kE4M3 writes the e4m3 bytes (rows padded to out_stride columns, a multiple of 16 bytes, with
// zeros, so that the GEMMs only issue aligned 16-byte loads); out_code kBF16 writes the dequantised
// values q * scale rounded to bf16 instead (exact for e4m3 x a power-of-two scale, within bf16 rounding
// otherwise): the dequantise-at-load path, which then runs the BF16 kernels.
#include "moe_common.cuh"

namespace moespec_quant {
constexpr int kThreads = 256;

__device__ __forceinline__ float block_max(float v) {
    __shared__ float partial[kThreads / moe::kWarp];
    v = moe::warp_max(v);
    const int lane = threadIdx.x % moe::kWarp, warp = threadIdx.x / moe::kWarp;
    __syncthreads();  // partial may still be read by a previous call
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < kThreads / moe::kWarp ? partial[lane] : 0.f;
    return moe::warp_max(v);
}

__device__ __forceinline__ float e4m3_to_float(uint8_t b) {
    const __half_raw h = __nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)b, __NV_E4M3);
    return __half2float(*reinterpret_cast<const __half*>(&h));
}

// Columns [from, to) of one row; the padding columns [cols, out_stride) when to == out_stride.
__device__ __forceinline__ void quantize_cols(const void* x, int code, int64_t in_offset, int from, int to, int cols,
                                              float scale, void* out, int64_t out_offset, int out_code) {
    for (int c = from + (int)threadIdx.x; c < to; c += kThreads) {
        const uint8_t q = c < cols ? moe::to_e4m3(moe::load_as_float(x, code, in_offset + c) / scale) : (uint8_t)0;
        if (out_code == moe::kE4M3) {
            reinterpret_cast<uint8_t*>(out)[out_offset + c] = q;
        } else {
            reinterpret_cast<__nv_bfloat16*>(out)[out_offset + c] = __float2bfloat16_rn(e4m3_to_float(q) * scale);
        }
    }
}

__device__ __forceinline__ void zero_floats(float* p, int n) {
    for (int i = blockIdx.x * kThreads + threadIdx.x; i < n; i += gridDim.x * kThreads) p[i] = 0.f;
}
}  // namespace moespec_quant

// Per-tensor, pass 1: block b writes max |x| over its grid-stride share of x[0, n) to partial[b].
// Launch: 256 threads, any grid (<= 1024 blocks, the size pass 2 reduces).
extern "C" __global__ void __launch_bounds__(256)
moe_amax_partial(const void* __restrict__ x, int code, int64_t n, float* __restrict__ partial) {
    using namespace moespec_quant;
    float m = 0.f;
    for (int64_t i = (int64_t)blockIdx.x * kThreads + threadIdx.x; i < n; i += (int64_t)gridDim.x * kThreads) {
        m = fmaxf(m, fabsf(moe::load_as_float(x, code, i)));
    }
    m = block_max(m);
    if (threadIdx.x == 0) partial[blockIdx.x] = m;
}

// Per-tensor, pass 2: amax = max(amax_partial[0, n_partial)); x[rows, cols] -> q[rows, out_stride] and
// scale_out[0]. Also zeroes zero[0, n_zero) (the next stage's amax accumulators) for the caller.
// Launch: 256 threads, grid = any (grid-strides over rows).
extern "C" __global__ void __launch_bounds__(256)
moe_quant_tensor_e4m3(const void* __restrict__ x, int code, int rows, int cols, int out_stride,
                      const float* __restrict__ amax_partial, int n_partial, void* __restrict__ q, int out_code,
                      float* __restrict__ scale_out, float* __restrict__ zero, int n_zero) {
    using namespace moespec_quant;
    float m = 0.f;
    for (int i = threadIdx.x; i < n_partial; i += kThreads) m = fmaxf(m, amax_partial[i]);
    const float amax = block_max(m);
    const float scale = amax == 0.f ? 1.f : amax / moe::kE4m3Max;
    if (blockIdx.x == 0 && threadIdx.x == 0) scale_out[0] = scale;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        quantize_cols(x, code, (int64_t)r * cols, 0, out_stride, cols, scale, q, (int64_t)r * out_stride, out_code);
    }
    zero_floats(zero, n_zero);
}

// Per-row (and per 128-column group): row r's scale(s) from row_amax[r] when given (the GEMM-1 epilogue
// computed it; only with group == cols), else from the row itself; x[rows, cols] -> q[rows, out_stride] and
// scales[rows * groups]. Zeroes zero[0, n_zero).
// Launch: 256 threads, grid = rows.
extern "C" __global__ void __launch_bounds__(256)
moe_quant_rows_e4m3(const void* __restrict__ x, int code, int rows, int cols, int out_stride, int group,
                    const float* __restrict__ row_amax, void* __restrict__ q, int out_code,
                    float* __restrict__ scales, float* __restrict__ zero, int n_zero) {
    using namespace moespec_quant;
    const int r = blockIdx.x;
    const int64_t in = (int64_t)r * cols, out = (int64_t)r * out_stride;
    const int groups = (cols + group - 1) / group;
    for (int g = 0; g < groups; ++g) {
        const int from = g * group, to = min(cols, from + group);
        float amax;
        if (row_amax != nullptr) {
            amax = row_amax[r];
        } else {
            float m = 0.f;
            for (int c = from + (int)threadIdx.x; c < to; c += kThreads) m = fmaxf(m, fabsf(moe::load_as_float(x, code, in + c)));
            amax = block_max(m);
        }
        const float scale = amax == 0.f ? 1.f : amax / moe::kE4m3Max;
        if (threadIdx.x == 0) scales[(int64_t)r * groups + g] = scale;
        quantize_cols(x, code, in, from, g == groups - 1 ? out_stride : to, cols, scale, q, out, out_code);
    }
    zero_floats(zero, n_zero);
}
