#pragma once
// The SIMT emulator's stand-in for cub::DeviceScan (tests/simt/): the same calling convention
// (a size query with null temp storage, then the scan), computed serially on the host when the
// stream reaches it.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <iterator>

namespace cub {

struct DeviceScan {
  template <class InputIt, class OutputIt, class NumItems>
  static cudaError_t ExclusiveSum(void* temp_storage, std::size_t& temp_storage_bytes, InputIt in, OutputIt out,
                                  NumItems num_items, cudaStream_t stream = nullptr) {
    constexpr std::size_t kTempBytes = 16;  // as CUB, a non-empty size even for a tiny scan
    if (temp_storage == nullptr) {
      temp_storage_bytes = kTempBytes;
      return cudaSuccess;
    }
    if (temp_storage_bytes < kTempBytes || num_items < 0) return cudaErrorInvalidValue;
    // Device work: it runs when the stream reaches it.
    return simt::detail::enqueue_device_work(stream, [in, out, num_items] {
      using Value = typename std::iterator_traits<OutputIt>::value_type;
      Value sum{};
      for (NumItems k = 0; k < num_items; ++k) {
        const Value v = static_cast<Value>(in[k]);  // read before the write: in place works
        out[k] = sum;
        sum += v;
      }
      return cudaSuccess;
    });
  }
};

}  // namespace cub
