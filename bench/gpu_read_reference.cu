// bench/read_reference.hpp: Thrust's for_each streams the words through one generated kernel (no
// temporary storage, no synchronisation: par_nosync), which is all a read-bandwidth probe needs.
#include "bench/read_reference.hpp"

#include <thrust/for_each.h>
#include <thrust/system/cuda/execution_policy.h>

namespace ratrace::bench {
namespace {

struct FlagAllOnesWord {
  unsigned* flag;
  __device__ void operator()(const uint4& w) const {
    if ((w.x & w.y & w.z & w.w) == 0xffffffffu) *flag = 1u;
  }
};

}  // namespace

void enqueue_read_every_word(const void* data, std::size_t bytes, unsigned* flag, cudaStream_t stream) {
  const auto* words = static_cast<const uint4*>(data);
  thrust::for_each(thrust::cuda::par_nosync.on(stream), words, words + bytes / sizeof(uint4), FlagAllOnesWord{flag});
}

}  // namespace ratrace::bench
