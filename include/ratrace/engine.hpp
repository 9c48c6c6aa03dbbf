#pragma once
// The engines: CPU reference and GPU. Both take the same plan and produce the same results.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ratrace/corpus_reader.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"
#include "ratrace/validate.hpp"

namespace ratrace {

// The resolved work for one sequence: every (layer, head) matrix, each traced for every target.
struct SequencePlan {
  int seq_index = 0;
  int seq_len = 0;
  std::vector<int> layers;   // resolved, non-negative
  std::vector<int> heads;    // resolved head indices, kHeadMean, kHeadMax
  std::vector<int> targets;  // resolved, non-negative
  std::vector<std::uint8_t> key_mask;  // empty = all keys valid
  std::vector<std::uint8_t> is_bos;    // empty = no BOS positions

  bool has_aggregate() const;  // mean or max among the heads
  // The heads a layer's trace reads and checks, in order: every head when an aggregate is traced,
  // else each planned head once. Both engines follow it, so bad-value errors name the same head.
  std::vector<int> heads_read(int num_heads) const;
};

struct TracePlan {
  std::vector<SequencePlan> sequences;
  std::int64_t num_jobs() const;
  std::int64_t num_matrices() const;  // (sequence, layer, head) units
};

// A piece of a run's output. Engines deliver batches in a fixed order for a given plan, so a
// run's output does not depend on thread counts or timing.
struct TraceBatch {
  TraceResults results;                    // jobs after those of the earlier batches
  std::vector<AttentionProfile> profiles;  // the traced matrices finished since the last batch
};
// Where an engine's batches go, each as soon as it is ready. consume() may block (to bound
// memory) or throw (to stop the run). An engine fills the batch that spare() gives: one already
// consumed, emptied (TraceResults::clear) but keeping its arrays' capacity, so that a long run
// does not map fresh memory for every batch (for GPU batches of hundreds of MB, the page faults
// of fresh memory cost more than the copies into it).
class BatchSink {
 public:
  BatchSink() = default;
  explicit BatchSink(std::function<void(TraceBatch&&)> consume) : consume_(std::move(consume)) {}
  virtual ~BatchSink() = default;
  virtual void consume(TraceBatch&& batch) { consume_(std::move(batch)); }
  // An empty batch to fill: a spent one when the sink keeps them, else a new one.
  virtual TraceBatch spare() { return {}; }
  // Whether consume() and spare() may be called from a thread other than the engine's calling
  // thread, while that thread reads the corpus (never two calls at once, and every call done when
  // run() returns; the GPU engine does so). A sink that reads or writes HDF5 itself must say no
  // unless the library is thread-safe.
  virtual bool may_consume_beside_reader() const { return true; }

 private:
  std::function<void(TraceBatch&&)> consume_;
};

// A sink that reads each batch and then hands it back, emptied, as the next spare, as the results
// stream of `trace` does: the engine then refills batch memory (the GPU engine page-locks it and
// copies into it asynchronously), so that a check of the output (verify, tests) covers the fetch
// path of a run that writes a file, not only copies into fresh memory.
class RecyclingSink final : public BatchSink {
 public:
  explicit RecyclingSink(std::function<void(const TraceBatch&)> read) : read_(std::move(read)) {}
  void consume(TraceBatch&& batch) override;
  TraceBatch spare() override;

 private:
  std::function<void(const TraceBatch&)> read_;
  TraceBatch spare_;
};

// Called with (matrices done, matrices total) as work completes, from the thread that delivers the
// batches (see BatchSink::may_consume_beside_reader), never concurrently; every call is done when
// run() returns.
using ProgressFn = std::function<void(std::int64_t, std::int64_t)>;

// Where an engine spent a run, in wall-clock seconds; a phase an engine does not have stays 0.
// The phases up to results_wait_s take turns on the calling thread; on the GPU, total_s minus
// their sum is the rest: device setup, pinned and device allocations (a cudaFree also waits for the
// device), submitting copies and kernels, planning. fetch_s and deliver_s take turns with them too,
// unless results_beside: then a results thread spent them, beside the calling thread's reading.
// The GPU's copies and kernels run beside all of it, so a GPU run whose read_s is most of total_s
// is bound by reading the corpus, one with a large device_wait_s by the device, and one with a
// large results_wait_s by copying and delivering results.
struct EngineTimes {
  double total_s = 0;
  double read_s = 0;          // reading the corpus: HDF5 reads, decompression, widening (GPU: and packing, done as rows are read)
  double pack_s = 0;          // GPU: packing float64 heads' causal halves (narrowed first) into pinned buffers
  double compute_s = 0;       // CPU: the rest of total_s (value checks, candidate tables, searches)
  double device_wait_s = 0;   // GPU: waiting for the device to finish copies and kernels
  double results_wait_s = 0;  // GPU: waiting for the results thread (to reuse its buffers, or at the end)
  double fetch_s = 0;         // GPU: copying results back to the host
  double deliver_s = 0;       // handing batches to the sink (a writer with a full queue blocks it)
  bool results_beside = false;  // fetch_s and deliver_s were spent on a results thread
};

// What a run returns besides its batches.
struct RunReport {
  RowSumTally row_sums;  // suspicious rows, warned once by the caller
  EngineTimes times;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Which device ran, for stderr and the results' `device` attribute.
  virtual std::string device_description() const = 0;
  // Runs every job of the plan, handing results to `sink` batch by batch. Throws InputError on bad
  // values in what it reads; batches already delivered then stand for a failed run.
  virtual RunReport run(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params,
                        BatchSink& sink, const ProgressFn& progress) = 0;
};

// A whole run's output in memory, for runs small enough to hold (verify, tests, benchmarks).
struct TraceOutput {
  TraceResults results;                    // jobs in the engine's batch order, each once
  std::vector<AttentionProfile> profiles;  // one per traced matrix
  RowSumTally row_sums;
};
// Through a RecyclingSink.
TraceOutput run_collect(Engine& engine, const CorpusReader& reader, const TracePlan& plan, const SearchParams& params,
                        const ProgressFn& progress);

// threads <= 0: every CPU this process may run on (available_cpus). Output is identical whatever
// the thread count.
std::unique_ptr<Engine> make_cpu_engine(int threads);

struct GpuStatus {
  bool usable = false;
  std::string name;    // card name when usable
  std::string reason;  // why not, when not usable
};
// Never throws: any CUDA error (no driver, no device, CPU-only build) means "not usable".
GpuStatus query_gpu();

struct GpuOptions {
  std::int64_t mem_limit_bytes = 0;  // 0: a safe fraction of free memory
  int device = 0;
};
// Throws UsageError when no usable GPU is present (or the build has no CUDA).
std::unique_ptr<Engine> make_gpu_engine(const GpuOptions& options);

}  // namespace ratrace
