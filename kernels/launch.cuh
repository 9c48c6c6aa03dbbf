#pragma once
// Kernel launches and dynamic shared memory, written once for nvcc and for the SIMT emulator of
// the tests (tests/simt/), which builds these same kernels with the host compiler and runs them on
// the CPU, so that CI exercises the kernel code itself (RATRACE_SIMT_EMULATOR is defined there).
#include <cuda_runtime_api.h>

#include <cstddef>

namespace ratrace::gpu {

// kernel<<<grid, block, shared_bytes, stream>>>(args...).
template <class... Params, class... Args>
void launch_kernel(void (*kernel)(Params...), unsigned grid, unsigned block, std::size_t shared_bytes,
                   cudaStream_t stream, const Args&... args) {
#if defined(RATRACE_SIMT_EMULATOR)
  // The arguments are copied, as a launch copies them: the grid may run after this returns.
  simt::launch(reinterpret_cast<const void*>(kernel), dim3(grid), dim3(block), shared_bytes, stream,
               [=] { kernel(args...); });
#else
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
#endif
}

// The block's dynamic shared memory (the launch's shared_bytes), 16-byte aligned.
template <class T>
__device__ __forceinline__ T* dynamic_shared_memory() {
#if defined(RATRACE_SIMT_EMULATOR)
  return static_cast<T*>(simt::detail::dynamic_shared_memory());
#else
  extern __shared__ __align__(16) unsigned char dynamic_shared_bytes[];
  return reinterpret_cast<T*>(dynamic_shared_bytes);
#endif
}

}  // namespace ratrace::gpu
