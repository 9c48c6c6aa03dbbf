// The GPU entry points of a CPU-only build (-DRATRACE_CUDA=OFF): there is never a usable GPU.
#include "ratrace/engine.hpp"
#include "ratrace/errors.hpp"

namespace ratrace {

GpuStatus query_gpu() { return {false, "", "this ratrace was built without CUDA (-DRATRACE_CUDA=OFF)"}; }

std::unique_ptr<Engine> make_gpu_engine(const GpuOptions&) {
  throw UsageError("no usable GPU: " + query_gpu().reason);
}

}  // namespace ratrace
