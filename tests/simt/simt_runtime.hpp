#pragma once
// Emulator internals shared by the scheduler (simt.cpp) and the runtime (runtime.cpp), and what
// tests may ask the emulated device.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace simt {

// The error that the next cudaGetLastError() returns (the first one since the last call).
void record_error(cudaError_t error, const std::string& detail);

// Device memory held by cudaMalloc now, and the most held at once since reset_peak_device_memory().
std::size_t device_memory_in_use();
std::size_t peak_device_memory();
void reset_peak_device_memory();
// Whether streams are deferred (the default) rather than eager (RATRACE_SIMT_STREAMS=eager).
bool deferred_streams();

// Host memory page-locked with cudaHostRegister now.
std::size_t registered_host_bytes();

// The emulated device's opt-in shared memory per block (RATRACE_SIMT_SHARED_OPTIN_KB).
int shared_memory_optin_bytes();

}  // namespace simt
