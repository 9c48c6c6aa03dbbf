#pragma once
// RATRACE_HD marks logic that the CPU reference and the CUDA kernels share, so that CI (no GPU)
// exercises the very code the GPU runs.
#if defined(__CUDACC__)
#define RATRACE_HD __host__ __device__ __forceinline__
#else
#define RATRACE_HD inline
#endif

// `#pragma unroll` for the device compiler only (host compilers warn about it): shared loops whose
// bound is a compile-time constant, unrolled so that the arrays they index stay in registers.
#if defined(__CUDACC__)
#define RATRACE_UNROLL _Pragma("unroll")
#else
#define RATRACE_UNROLL
#endif
