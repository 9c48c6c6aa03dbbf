#pragma once
// The device's read-only streaming bandwidth: the stricter reference for a pass that reads its input
// once and writes next to nothing (BM_GpuRowTopK), beside the device-to-device copy, which reads and
// writes every byte. CUDA builds only: the SIMT emulator has no Thrust.
#include <cuda_runtime_api.h>

#include <cstddef>

namespace ratrace::bench {

// Enqueues one read of every 16-byte word of [data, data + bytes) (bytes rounded down to 16; data
// 16-byte aligned) on `stream`, asynchronously. Each word is tested, and *flag (device memory) set
// only when one is all ones, so that the compiler cannot drop the reads; no attention data holds
// such a word (all-ones float16, bfloat16 and float32 are NaN).
void enqueue_read_every_word(const void* data, std::size_t bytes, unsigned* flag, cudaStream_t stream);

}  // namespace ratrace::bench
