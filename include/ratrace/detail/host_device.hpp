#pragma once
// RATRACE_HD marks logic that the CPU reference and the CUDA kernels share, so that CI (no GPU)
// exercises the very code the GPU runs.
#if defined(__CUDACC__)
#define RATRACE_HD __host__ __device__ __forceinline__
#else
#define RATRACE_HD inline
#endif
