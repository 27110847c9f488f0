// Shared device helpers of triton's fused-MoE kernels: element types, 16-byte vector loads and
// conversions, warp reductions, the e4m3 rounding and the SwiGLU. All .cu files of the module form one
// translation unit (build/cuda/fatbin.sh), so this header is included once per .cu behind a guard.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cstdint>

namespace moe {

constexpr int kWarp = 32;
constexpr float kE4m3Max = 448.f;

// Element type codes shared with the Java host (TritonDType): activations and weights of one layer
// use the same 2-byte type (BF16/F16) or both e4m3 (FP8 layers, after activation quantisation).
enum ElemCode : int { kBF16 = 0, kF16 = 1, kE4M3 = 2, kF32 = 3 };

// How the weight scales of an FP8 layer are laid out: none (BF16/FP16), one per expert, one per row, or one per
// 128x128 block ([E, ceil(rows/128), ceil(K/128)], activations then carry one scale per row per 128 K columns).
// Per-tensor/per-channel scales multiply the finished dot; block scales multiply each 128-K partial dot.
enum ScaleMode : int { kNoScale = 0, kPerTensor = 1, kPerChannel = 2, kBlock128 = 3 };
constexpr int kScaleBlock = 128;

__device__ __forceinline__ bool scaled_after_dot(int mode) { return mode == kPerTensor || mode == kPerChannel; }

// The scale a finished dot of one weight row takes: its expert's (per-tensor) or its row's (per-channel); 1 otherwise
// (block-128 scales apply to the partial dots instead).
__device__ __forceinline__ float weight_scale(int mode, const float* w_scale, int64_t per_expert, int64_t per_row) {
    return scaled_after_dot(mode) ? w_scale[mode == kPerTensor ? per_expert : per_row] : 1.f;
}

// The variants every mma.sync GEMM family (prefill, decode, skinny) instantiates, as (kernel name suffix, element
// type, block-128 scales): BF16, FP16, e4m3 with per-tensor/per-channel scales, and FP8_BLOCK_128 as e4m3 (sm_89+) or
// as e4m3 values held exactly in fp16 (below). The host finds the kernels by these suffixes (TritonNumerics).
#define MOESPEC_FOR_EACH_VARIANT(X) \
    X(bf16, __nv_bfloat16, false)   \
    X(f16, __half, false)           \
    X(e4m3, uint8_t, false)         \
    X(f16_b128, __half, true)       \
    X(e4m3_b128, uint8_t, true)

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Non-negative floats order like their bit patterns, so an int atomicMax is a float max.
__device__ __forceinline__ void atomic_max_nonneg(float* addr, float v) {
    atomicMax(reinterpret_cast<int*>(addr), __float_as_int(v));
}

// Streaming 16-byte load that skips L1: weights are read exactly once per forward.
__device__ __forceinline__ uint4 ld_stream(const void* p) {
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
    return r;
}

// Cached 16-byte load for activations, which every warp of a block re-reads.
__device__ __forceinline__ uint4 ld_cached(const void* p) {
    return __ldg(reinterpret_cast<const uint4*>(p));
}

// Reads one element of type `code` (BF16/F16/F32) as float.
__device__ __forceinline__ float load_as_float(const void* base, int code, int64_t i) {
    switch (code) {
        case kBF16: return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(base)[i]);
        case kF16: return __half2float(reinterpret_cast<const __half*>(base)[i]);
        default: return reinterpret_cast<const float*>(base)[i];
    }
}

// Writes element i of type `code` (BF16/F16/F32) from a float, rounding to nearest even.
__device__ __forceinline__ void store_from_float(void* base, int code, int64_t i, float v) {
    switch (code) {
        case kBF16: reinterpret_cast<__nv_bfloat16*>(base)[i] = __float2bfloat16_rn(v); break;
        case kF16: reinterpret_cast<__half*>(base)[i] = __float2half_rn(v); break;
        default: reinterpret_cast<float*>(base)[i] = v;
    }
}

// Round-to-nearest-even to e4m3, saturating at +-448 (the scaled values never exceed it by more than
// rounding noise), exactly what HostTensors.floatToE4m3 does on the host.
__device__ __forceinline__ uint8_t to_e4m3(float x) {
    return (uint8_t)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
}

// SiLU(g) * u in fp32, as the CPU reference computes it.
__device__ __forceinline__ float swiglu(float g, float u) {
    return g / (1.f + expf(-g)) * u;
}

// 16 bytes of elements of T, unpacked to floats. VEC elements per 16 bytes.
template <typename T> struct Vec;

template <> struct Vec<__nv_bfloat16> {
    static constexpr int kN = 8;
    __device__ __forceinline__ static void unpack(uint4 v, float* f) {
        const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            f[2 * i] = __uint_as_float(w[i] << 16);
            f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        }
    }
    __device__ __forceinline__ static void store(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }
};

template <> struct Vec<__half> {
    static constexpr int kN = 8;
    __device__ __forceinline__ static void unpack(uint4 v, float* f) {
        const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const float2 p = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
            f[2 * i] = p.x;
            f[2 * i + 1] = p.y;
        }
    }
    __device__ __forceinline__ static void store(__half* p, float x) { *p = __float2half_rn(x); }
};

// e4m3 -> fp16 is exact (3 mantissa bits, exponents -9..8), and the product of two fp16-exact values is
// exact in fp32, so the fp32 dot matches an e4m3 tensor-core MMA.
template <> struct Vec<uint8_t> {
    static constexpr int kN = 16;
    __device__ __forceinline__ static void unpack(uint4 v, float* f) {
        const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const __half2_raw lo = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(w[i] & 0xffffu), __NV_E4M3);
            const __half2_raw hi = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(w[i] >> 16), __NV_E4M3);
            const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&lo));
            const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&hi));
            f[4 * i] = a.x;
            f[4 * i + 1] = a.y;
            f[4 * i + 2] = b.x;
            f[4 * i + 3] = b.y;
        }
    }
};

}  // namespace moe
