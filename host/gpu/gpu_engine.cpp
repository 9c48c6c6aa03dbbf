// The GPU engine: streams the corpus through the device one launch at a time.
//
// Unit = the heads of one layer of one sequence that one top-K pass needs (every head when mean or
// max is traced, else the traced heads, split into groups when they exceed the memory bound),
// plus every search over that unit's tables.
//
// Launch = consecutive units of the plan that share one upload, one top-K pass (one launch of each
// top-K kernel) and one beam-search launch (several only when their history arenas exceed the
// memory bound). Batching rule, applied in plan order (sequence, layer, head group):
//   a unit joins the current launch when
//     1. it has the same device element type (the kernels are typed), and
//     2. the launch's packed heads stay within kLaunchHeadBytes (16 MiB) with it, and
//     3. the launch (heads, tables, descriptors; summed per unit, an upper bound) plus the longest
//        single search of any of its units still fits the memory bound of one stream;
//   otherwise the unit starts the next launch. A unit that alone exceeds kLaunchHeadBytes has a
//   launch to itself, so long sequences run as before (S = 1024, 32 float16 heads: 32 MiB per
//   layer), while short ones share (S = 128: ~31 layers of 32 float16 heads per launch), which
//   spares the per-launch costs (kernel launches, syncs, small copies) that would otherwise exceed
//   the GPU work of a short unit. Every matrix of a launch carries its own seq_len, head-data
//   offset, table offset, mask and BOS offsets (gpu/launch_layout.hpp); jobs of all the launch's
//   matrices run together, longest searches (largest targets) first.
//
// Two launches are in flight, each with its own stream, pinned host buffer and device workspace:
// while launch n's copy and kernels run, the host thread reads launch n+1 from HDF5 into the other
// pinned buffer (reading dominates, so the GPU work hides behind it). Before reusing a slot for
// launch n, it waits for launch n-2 (that slot's previous launch) and checks its values; a results
// thread then copies n-2's last search batch back and hands it to the sink while the host thread
// reads launch n, so the device-to-host copy of the results (often larger than the corpus read)
// overlaps the reading too. (A launch whose searches need several batches copies the earlier ones
// back while the host thread waits: the next batch reuses their buffers.) Batches reach the sink in
// a fixed order: one at a time, in the order posted. A sink that may not be called beside the
// reader (a results writer over an HDF5 library that is not thread-safe) gets its batches on the
// host thread instead.
//
// Choices, documented:
// - Only the causal half travels: the reader hands each head over in runs of rows, on its own
//   threads (--threads), and each run's lower triangle is packed (detail/packed_layout.hpp: row i
//   at i * (i + 1) / 2) into the pinned buffer while it is still in cache, which halves the
//   host-to-device copy and the device memory of the resident heads. Kernels index rows with the
//   same packed offsets.
// - float64 corpora are narrowed to float32 on the host (read_heads); float16 / bfloat16 /
//   float32 travel as stored and are widened on the GPU by the shared detail:: rules.
// - Memory: GpuOptions::mem_limit_bytes (0 = 70% of free device memory) is split between the two
//   slots. A unit's resident (packed) heads and tables must fit in half (per-head units are split
//   into head groups to fit; a layer with mean/max needs all its heads at once); the searches of a
//   launch run in batches whose history arenas fit in the rest. The bound holds for the bytes the
//   engine requests (the driver rounds allocations up, large ones to 2 MiB pages): device buffers
//   are reused across launches, and what an earlier launch grew beyond the current one's needs is
//   released when keeping it would pass the bound (Workspace::set_budget; tests/simt measures the
//   peak against it).
// - Bad values: the kernels raise a flag per launch; the host then re-reads (read_heads) and checks
//   with check_attention_values the layers of that launch's units, each layer's heads in the order
//   the CPU reference reads them, so the error names the same first element as the CPU reference.
// - Distance profiles are computed on the GPU, fused into the top-K pass (see kernels/row_topk.cu).
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "gpu/cuda_util.hpp"
#include "gpu/launch_layout.hpp"
#include "gpu/workspace.hpp"
#include "ratrace/detail/packed_layout.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/validate.hpp"
#include "util/parallel_for.hpp"
#include "util/serial_worker.hpp"
#include "util/stopwatch.hpp"

namespace ratrace {
namespace {

using gpu::BeamJob;
using gpu::ElemType;
using gpu::LaunchLayout;
using gpu::LaunchSpec;
using gpu::UnitSpec;
using gpu::Workspace;

// The kernels' warp reductions (__reduce_max_sync) need compute capability 8.0.
constexpr int kMinComputeMajor = 8;
// RATRACE_CUDA_ARCHITECTURES, the CUDA architectures this build has code for, comes from
// CMakeLists.txt (tests/simt/CMakeLists.txt for the emulated engine): the message of a GPU that
// the build cannot run on names them.

constexpr double kDefaultMemFraction = 0.70;
constexpr std::size_t kLaunchHeadBytes = std::size_t{16} << 20;  // batching rule 2
constexpr std::size_t kStagingBytes = std::size_t{64} << 20;     // dense heads read per HDF5 call (at least one)
constexpr std::size_t kSerialPackBytes = std::size_t{1} << 20;   // below this, pack on the calling thread
constexpr std::int64_t kPackRows = 128;                          // rows per packing task
constexpr int kMaxPackThreads = 8;

ElemType device_elem(AttnDtype dtype) {
  switch (dtype) {
    case AttnDtype::float16: return ElemType::f16;
    case AttnDtype::bfloat16: return ElemType::bf16;
    case AttnDtype::float32:
    case AttnDtype::float64: return ElemType::f32;
  }
  return ElemType::f32;
}

// Probes one device; never throws.
GpuStatus probe_device(int device) {
  GpuStatus status;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    status.reason = cudaGetErrorString(err);
    cudaGetLastError();
    return status;
  }
  if (count == 0) {
    status.reason = "no CUDA device found";
    return status;
  }
  if (device < 0 || device >= count) {
    status.reason = fmt::format("device {} does not exist ({} CUDA device(s))", device, count);
    return status;
  }
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) {
    status.reason = cudaGetErrorString(err);
    cudaGetLastError();
    return status;
  }
  if (prop.major < kMinComputeMajor) {
    status.reason = fmt::format("{} has compute capability {}.{}; ratrace's kernels need {}.0 or newer", prop.name,
                                prop.major, prop.minor, kMinComputeMajor);
    return status;
  }
  err = cudaSetDevice(device);
  if (err == cudaSuccess) err = cudaFree(nullptr);  // creates the context: catches driver trouble now
  if (err != cudaSuccess) {
    status.reason = cudaGetErrorString(err);
    cudaGetLastError();
    return status;
  }
  // A build without code for this GPU fails at its first launch otherwise: say so now, and how to
  // build for it.
  err = gpu::kernel_image_status();
  if (err != cudaSuccess) {
    status.reason = fmt::format("{} (compute capability {}.{}): this build has no kernels it can run ({}; built for "
                                "CUDA architectures {}); rebuild with -DCMAKE_CUDA_ARCHITECTURES={}{}",
                                prop.name, prop.major, prop.minor, cudaGetErrorString(err), RATRACE_CUDA_ARCHITECTURES,
                                prop.major, prop.minor);
    cudaGetLastError();
    return status;
  }
  status.usable = true;
  status.name = prop.name;
  return status;
}

// One (sequence, layer, head group) of the plan.
struct Unit {
  const SequencePlan* seq = nullptr;
  int layer = 0;
  AttnDtype dtype = AttnDtype::float32;
  ElemType elem = ElemType::f32;
  std::vector<int> load_heads;   // heads read, in order; resident index = position here
  std::vector<int> matrix_head;  // per local matrix: head index, kHeadMean or kHeadMax
  UnitSpec spec;                 // without key_mask / is_bos (unit_spec() adds them)
  std::size_t device_bytes = 0;  // Workspace::launch_bytes of this unit alone
  std::size_t head_bytes = 0;    // its packed heads
};

UnitSpec unit_spec(const Unit& u) {
  UnitSpec s = u.spec;
  s.key_mask = u.seq->key_mask;
  s.is_bos = u.seq->is_bos;
  return s;
}

// A launch: consecutive units (see the batching rule at the top) and where they sit on the device.
struct Launch {
  std::vector<const Unit*> units;
  LaunchLayout layout;
};

// Element counts per distance bin of an S x S causal matrix, as accumulate_attention_profile counts.
std::array<std::int64_t, kDistanceBins> profile_counts(int S) {
  std::array<std::int64_t, kDistanceBins> count{};
  for (std::int64_t d = 1; d < S; ++d) count[distance_bin(static_cast<std::int32_t>(d))] += S - d;
  return count;
}

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

int pack_threads() {
  const int hw = available_cpus();
  return std::min(hw, kMaxPackThreads);
}

class GpuEngine final : public Engine {
 public:
  GpuEngine(const GpuOptions& options, std::string name)
      : options_(options), name_(std::move(name)), pack_pool_(pack_threads()) {}

  std::string device_description() const override { return "gpu: " + name_; }

  RunReport run(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params, BatchSink& sink,
                const ProgressFn& progress) override {
    const auto start = std::chrono::steady_clock::now();  // device setup included
    params.validate();
    gpu::cuda_check(cudaSetDevice(options_.device), "cudaSetDevice");
    Run run(reader, plan, params, sink, progress, slot_budget(), pack_pool_, options_.device);
    run.execute();
    run.times.total_s = seconds_since(start);
    return RunReport{run.row_sums, run.times};
  }

 private:
  // Half the memory bound for each of the two slots. A bound above the free memory is refused
  // here, before anything runs: otherwise a run that grows into it fails in cudaMalloc midway.
  std::size_t slot_budget() const {
    std::size_t free_bytes = 0, total_bytes = 0;
    gpu::cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    if (options_.mem_limit_bytes <= 0)
      return static_cast<std::size_t>(kDefaultMemFraction * static_cast<double>(free_bytes)) / 2;
    const auto limit = static_cast<std::size_t>(options_.mem_limit_bytes);
    if (limit > free_bytes)
      throw UsageError(fmt::format("--gpu-mem {:.2f} GiB is more than the {:.2f} GiB free on {} (0 = {:.0f}% of the free "
                                   "memory)",
                                   mib(limit) / 1024, mib(free_bytes) / 1024, name_, 100.0 * kDefaultMemFraction));
    return limit / 2;
  }

  // One slot of the two-deep pipeline.
  struct Slot {
    ~Slot() { gpu::drop_cleanup_error(cudaStreamSynchronize(stream.get())); }  // nothing in flight when the buffers go
    gpu::Stream stream;
    gpu::PinnedBuffer raw_host;      // the launch's packed heads
    Workspace workspace;
    std::optional<Launch> launch;    // in flight
    std::vector<JobKey> last_keys;   // keys of the last batch, in device order
    bool with_results = false;       // the results thread may be reading its workspace
  };

  class Run {
   public:
    Run(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params, BatchSink& sink,
        const ProgressFn& progress, std::size_t slot_budget, ThreadPool& pack_pool, int device)
        : reader_(reader),
          plan_(plan),
          params_(params),
          sink_(sink),
          progress_(progress),
          slot_budget_(slot_budget),
          pack_pool_(pack_pool),
          device_(device),
          results_(sink.may_consume_beside_reader()) {
      times.results_beside = results_.has_thread();
    }

    RowSumTally row_sums;
    EngineTimes times;

    void execute() {
      const std::vector<Unit> units = build_units();
      const std::vector<std::pair<std::size_t, std::size_t>> ranges = group_units(units);
      total_matrices_ = plan_.num_matrices();
      slots_ = {std::make_unique<Slot>(), std::make_unique<Slot>()};
      for (std::size_t n = 0; n < ranges.size(); ++n) {
        Slot& slot = *slots_[n % 2];
        if (slot.launch) harvest(slot);  // hands its last batch to the results thread
        results_.rethrow_if_failed();    // a sink's failure stops the run before the next read
        slot.launch = make_launch(units, ranges[n]);
        stage(*slot.launch, slot);  // beside that batch's copy and delivery
        // Before enqueue: enqueue_launch may release the slot's batch buffers (reserve_launch),
        // which the results thread reads until it is done.
        wait_for_results();
        enqueue(slot);
      }
      // Collect in launch order: the older launch sits in the slot after the last one used.
      for (std::size_t k = 0; k < 2; ++k) {
        Slot& slot = *slots_[(ranges.size() + k) % 2];
        results_.rethrow_if_failed();
        if (slot.launch) harvest(slot);
      }
      wait_for_results();
    }

   private:
    // Device bytes of one unit alone (with its flags), for the budget checks.
    std::size_t unit_device_bytes(const Unit& u) const {
      LaunchSpec spec = launch_spec_base(u.elem);
      spec.units.push_back(unit_spec(u));
      return Workspace::launch_bytes(gpu::make_launch_layout(spec));
    }

    LaunchSpec launch_spec_base(ElemType elem) const {
      LaunchSpec spec;
      spec.elem = elem;
      spec.top_k = params_.top_k;
      spec.min_attn = params_.min_attn;
      spec.stop_at_bos = params_.stop_at_bos;
      return spec;
    }

    std::vector<Unit> build_units() const {
      std::vector<Unit> units;
      const auto& infos = reader_.sequences();
      for (const SequencePlan& seq : plan_.sequences) {
        if (seq.seq_index < 0 || seq.seq_index >= static_cast<int>(infos.size()))
          throw std::invalid_argument(fmt::format("plan: sequence index {} is outside [0, {})", seq.seq_index, infos.size()));
        const SequenceInfo& info = infos[seq.seq_index];
        const int S = seq.seq_len;
        if (S != info.seq_len)
          throw std::invalid_argument(fmt::format("plan: sequence '{}' has length {}, the plan says {}", info.name, info.seq_len, S));
        for (const int t : seq.targets)
          if (t < 0 || t >= S)
            throw std::invalid_argument(fmt::format("plan: target {} of sequence '{}' is outside [0, {})", t, info.name, S));
        if (!seq.key_mask.empty() && seq.key_mask.size() != static_cast<std::size_t>(S))
          throw std::invalid_argument(fmt::format("plan: key_mask of sequence '{}' has the wrong size", info.name));
        if (!seq.is_bos.empty() && seq.is_bos.size() != static_cast<std::size_t>(S))
          throw std::invalid_argument(fmt::format("plan: is_bos of sequence '{}' has the wrong size", info.name));

        std::vector<int> per_head;
        bool mean = false, max = false;
        for (const int h : seq.heads) {
          if (h == kHeadMean) mean = true;
          else if (h == kHeadMax) max = true;
          else if (h < 0 || h >= info.num_heads)
            throw std::invalid_argument(fmt::format("plan: head {} of sequence '{}' is outside [0, {})", h, info.name, info.num_heads));
          else if (std::find(per_head.begin(), per_head.end(), h) == per_head.end()) per_head.push_back(h);
        }
        // The longest search, with the batch base of all the unit's searches (an upper bound).
        const std::int64_t unit_jobs = static_cast<std::int64_t>(seq.targets.size()) *
                                       static_cast<std::int64_t>(per_head.size() + 2);
        const std::size_t min_job =
            Workspace::job_bytes(S - 1, params_.top_beam) + Workspace::batch_base_bytes(unit_jobs, params_.top_beam);
        for (const int layer : seq.layers) {
          if (layer < 0 || layer >= info.num_layers)
            throw std::invalid_argument(fmt::format("plan: layer {} of sequence '{}' is outside [0, {})", layer, info.name, info.num_layers));
          Unit base;
          base.seq = &seq;
          base.layer = layer;
          base.dtype = info.dtype;
          base.elem = device_elem(info.dtype);
          base.spec.seq_len = S;
          const auto finish = [&](Unit& u) {
            u.spec.num_heads = static_cast<int>(u.load_heads.size());
            u.device_bytes = unit_device_bytes(u);
            u.head_bytes = static_cast<std::size_t>(u.spec.raw_elems()) * gpu::elem_size(u.elem);
          };
          if (mean || max) {
            Unit u = base;
            for (int h = 0; h < info.num_heads; ++h) u.load_heads.push_back(h);
            u.spec.traced.assign(per_head.begin(), per_head.end());
            u.spec.mean = mean;
            u.spec.max = max;
            u.matrix_head = per_head;
            if (mean) u.matrix_head.push_back(kHeadMean);
            if (max) u.matrix_head.push_back(kHeadMax);
            finish(u);
            const std::size_t need = u.device_bytes + min_job;
            if (need > slot_budget_)
              throw UsageError(fmt::format(
                  "sequence '{}' layer {}: mean/max over {} heads of {}x{} needs {:.2f} MiB of GPU memory, more than "
                  "the {:.2f} MiB available per stream (raise --gpu-mem, or use --device cpu)",
                  info.name, layer, info.num_heads, S, S, mib(need), mib(slot_budget_)));
            units.push_back(std::move(u));
          } else {
            // Heads in ascending order, so that contiguous ones are read in one call.
            std::vector<int> heads = per_head;
            std::sort(heads.begin(), heads.end());
            const auto group_unit = [&](std::size_t g0, std::size_t count) {
              Unit u = base;
              for (std::size_t k = g0; k < std::min(heads.size(), g0 + count); ++k) {
                u.spec.traced.push_back(static_cast<std::int32_t>(u.load_heads.size()));
                u.load_heads.push_back(heads[k]);
                u.matrix_head.push_back(heads[k]);
              }
              finish(u);
              return u;
            };
            std::size_t group = heads.size();
            const auto group_bytes = [&](std::size_t g) { return group_unit(0, g).device_bytes + min_job; };
            while (group > 1 && group_bytes(group) > slot_budget_) group = (group + 1) / 2;
            if (group_bytes(group) > slot_budget_)
              throw UsageError(fmt::format(
                  "sequence '{}' layer {}: one {}x{} head needs {:.2f} MiB of GPU memory, more than the {:.2f} MiB "
                  "available per stream (raise --gpu-mem, or use --device cpu)",
                  info.name, layer, S, S, mib(group_bytes(1)), mib(slot_budget_)));
            for (std::size_t g0 = 0; g0 < heads.size(); g0 += group) units.push_back(group_unit(g0, group));
          }
        }
      }
      return units;
    }

    // The batching rule (top of the file): [begin, end) ranges of consecutive units.
    std::vector<std::pair<std::size_t, std::size_t>> group_units(const std::vector<Unit>& units) const {
      std::vector<std::pair<std::size_t, std::size_t>> ranges;
      std::size_t begin = 0, head_bytes = 0, device_bytes = 0;
      std::int64_t jobs = 0;
      int longest = 0;
      const auto unit_jobs = [](const Unit& u) {
        return static_cast<std::int64_t>(u.matrix_head.size() * u.seq->targets.size());
      };
      for (std::size_t k = 0; k < units.size(); ++k) {
        const Unit& u = units[k];
        if (k > begin) {
          const int S = std::max(longest, u.spec.seq_len);
          const std::size_t search_bytes = Workspace::job_bytes(S - 1, params_.top_beam) +
                                           Workspace::batch_base_bytes(jobs + unit_jobs(u), params_.top_beam);
          const bool joins = u.elem == units[begin].elem && head_bytes + u.head_bytes <= kLaunchHeadBytes &&
                             device_bytes + u.device_bytes + search_bytes <= slot_budget_;
          if (!joins) {
            ranges.emplace_back(begin, k);
            begin = k;
            head_bytes = device_bytes = 0;
            jobs = 0;
            longest = 0;
          }
        }
        head_bytes += u.head_bytes;
        device_bytes += u.device_bytes;
        jobs += unit_jobs(u);
        longest = std::max(longest, u.spec.seq_len);
      }
      if (begin < units.size()) ranges.emplace_back(begin, units.size());
      return ranges;
    }

    Launch make_launch(const std::vector<Unit>& units, std::pair<std::size_t, std::size_t> range) const {
      Launch launch;
      LaunchSpec spec = launch_spec_base(units[range.first].elem);
      for (std::size_t k = range.first; k < range.second; ++k) {
        launch.units.push_back(&units[k]);
        spec.units.push_back(unit_spec(units[k]));
      }
      launch.layout = gpu::make_launch_layout(spec);
      return launch;
    }

    // Reads the launch's heads and packs their lower triangles into the slot's pinned buffer (the
    // host side of the pipeline).
    void stage(const Launch& launch, Slot& slot) {
      const LaunchLayout& layout = launch.layout;
      const std::size_t esize = gpu::elem_size(layout.elem);
      auto* dst = static_cast<unsigned char*>(slot.raw_host.reserve(static_cast<std::size_t>(layout.raw_elems) * esize + 16));
      for (std::size_t k = 0; k < launch.units.size(); ++k) {
        const Unit& u = *launch.units[k];
        const std::int64_t S = u.spec.seq_len;
        const std::size_t dense_bytes = static_cast<std::size_t>(S * S) * esize;  // float64 is read as float32
        const std::size_t packed_bytes = static_cast<std::size_t>(detail::packed_matrix_elems(S)) * esize;
        unsigned char* unit_dst = dst + static_cast<std::size_t>(layout.unit_raw_offset[k]) * esize;
        const std::size_t max_run = std::max<std::size_t>(1, dense_bytes > 0 ? kStagingBytes / dense_bytes : 1);
        for (std::size_t r = 0; r < u.load_heads.size();) {
          std::size_t run = 1;  // contiguous heads go in one read
          while (r + run < u.load_heads.size() && run < max_run &&
                 u.load_heads[r + run] == u.load_heads[r] + static_cast<int>(run))
            ++run;
          unsigned char* heads_dst = unit_dst + r * packed_bytes;
          if (u.dtype == AttnDtype::float64) {  // narrowed to float32 first, then packed
            staging_.resize(std::max(staging_.size(), run * dense_bytes));
            {
              const PhaseTimer reading(times.read_s);
              reader_.read_heads(u.seq->seq_index, u.layer, u.load_heads[r], static_cast<int>(run),
                                 reinterpret_cast<float*>(staging_.data()));
            }
            const PhaseTimer packing(times.pack_s);
            pack(staging_.data(), run, S, esize, heads_dst);
          } else {  // packed as the reader hands rows over, still in cache (read_s covers both)
            const PhaseTimer reading(times.read_s);
            reader_.read_heads_raw_rows(u.seq->seq_index, u.layer, u.load_heads[r], static_cast<int>(run),
                                        [&](int head, int row_begin, int row_end, const void* rows) {
                                          detail::pack_row_block(rows, S, esize, heads_dst + head * packed_bytes,
                                                                 row_begin, row_end);
                                        });
          }
          r += run;
        }
      }
    }

    // Packs `heads` dense [S][S] heads (one after the other) into consecutive packed heads.
    void pack(const unsigned char* dense, std::size_t heads, std::int64_t S, std::size_t esize, unsigned char* packed) {
      const std::size_t dense_bytes = static_cast<std::size_t>(S * S) * esize;
      const std::size_t packed_bytes = static_cast<std::size_t>(detail::packed_matrix_elems(S)) * esize;
      if (heads * dense_bytes < kSerialPackBytes || pack_pool_.size() == 1) {
        for (std::size_t h = 0; h < heads; ++h) detail::pack_lower_triangle(dense + h * dense_bytes, S, esize, packed + h * packed_bytes);
        return;
      }
      const std::int64_t blocks = (S + kPackRows - 1) / kPackRows;
      pack_pool_.parallel_for(static_cast<std::int64_t>(heads) * blocks, [&](std::int64_t t) {
        const auto h = static_cast<std::size_t>(t / blocks);
        const std::int64_t row0 = (t % blocks) * kPackRows;
        detail::pack_lower_triangle_rows(dense + h * dense_bytes, S, esize, packed + h * packed_bytes, row0,
                                         std::min(S, row0 + kPackRows));
      });
    }

    void enqueue(Slot& slot) {
      expect_own(slot);
      const Launch& launch = *slot.launch;
      const LaunchLayout& layout = launch.layout;
      const cudaStream_t stream = slot.stream.get();

      // Jobs of every matrix of the launch, longest searches first; batches bounded by the memory
      // left beside the tables.
      struct HostJob {
        BeamJob job;
        JobKey key;
      };
      std::vector<HostJob> jobs;
      for (std::size_t k = 0; k < launch.units.size(); ++k) {
        const Unit& u = *launch.units[k];
        for (std::size_t lm = 0; lm < u.matrix_head.size(); ++lm)
          for (const int t : u.seq->targets)
            jobs.push_back(HostJob{BeamJob{layout.unit_matrices[k][lm], t, 0},
                                   JobKey{u.seq->seq_index, u.layer, u.matrix_head[lm], t}});
      }
      std::stable_sort(jobs.begin(), jobs.end(), [](const HostJob& a, const HostJob& b) { return a.job.target > b.job.target; });
      // Besides the per-job bytes, a batch holds the scan's scratch and a few closing entries.
      const std::size_t batch_base = Workspace::batch_base_bytes(static_cast<std::int64_t>(jobs.size()), params_.top_beam);
      // Room kept for the searches beside the launch: all of them when they fit beside its own
      // buffers, else what its own buffers leave (never less than the longest search). Leftovers
      // of earlier launches that would eat into it are released: more, smaller batches cost more.
      std::size_t all_searches = batch_base;
      for (const HostJob& j : jobs) all_searches += Workspace::job_bytes(j.job.target, params_.top_beam);
      const std::size_t own = Workspace::launch_bytes(layout);
      const std::size_t search_room =
          jobs.empty() ? 0
                       : std::max(batch_base + Workspace::job_bytes(jobs.front().job.target, params_.top_beam),
                                  std::min(all_searches, slot_budget_ > own ? slot_budget_ - own : 0));
      Workspace& ws = slot.workspace;
      ws.set_budget(slot_budget_);  // it releases what earlier launches left, when keeping it would pass the bound
      ws.enqueue_launch(layout, slot.raw_host.get(), stream, search_room);
      const std::size_t launch_held = ws.launch_bytes_held();
      const std::size_t room = slot_budget_ > launch_held ? slot_budget_ - launch_held : 0;
      ws.enqueue_fetch_checks(stream);

      std::size_t k = 0;
      while (k < jobs.size()) {
        std::vector<BeamJob> batch;
        std::vector<JobKey> keys;
        std::size_t bytes = batch_base;  // enough for the largest batch
        std::int64_t arena = 0;
        while (k < jobs.size()) {
          const std::size_t b = Workspace::job_bytes(jobs[k].job.target, params_.top_beam);
          if (!batch.empty() && bytes + b > room) break;
          BeamJob j = jobs[k].job;
          j.arena_offset = arena;
          arena += static_cast<std::int64_t>(j.target + 1) * params_.top_beam;
          batch.push_back(j);
          keys.push_back(jobs[k].key);
          bytes += b;
          ++k;
        }
        slot.workspace.enqueue_batch(batch, params_, stream);
        if (k < jobs.size()) {  // the next batch reuses the buffers: this one is copied back first
          {
            const PhaseTimer waiting(times.device_wait_s);
            slot.stream.sync();
          }
          post_results(slot, std::move(keys), {}, 0);
          wait_for_results();
        } else {
          slot.last_keys = std::move(keys);
        }
      }
      if (jobs.empty()) slot.last_keys.clear();
    }

    // Waits for the slot's launch, checks its values, and hands its last batch (with the profiles
    // of its matrices) to the results thread.
    void harvest(Slot& slot) {
      expect_own(slot);
      const Launch& launch = *slot.launch;
      const LaunchLayout& layout = launch.layout;
      {
        const PhaseTimer waiting(times.device_wait_s);
        slot.stream.sync();
      }
      const gpu::LayerChecks checks = slot.workspace.checks();
      if (checks.bad_values) report_bad_values(launch);
      row_sums.rows_off += checks.rows_off;
      std::vector<AttentionProfile> profiles;
      std::int64_t matrices = 0;
      for (std::size_t k = 0; k < launch.units.size(); ++k) {
        const Unit& u = *launch.units[k];
        row_sums.rows_checked += static_cast<std::int64_t>(u.load_heads.size()) * u.spec.seq_len;
        const auto counts = profile_counts(u.spec.seq_len);
        for (std::size_t lm = 0; lm < u.matrix_head.size(); ++lm) {
          const auto m = static_cast<std::size_t>(layout.unit_matrices[k][lm]);
          profiles.push_back(AttentionProfile{u.seq->seq_index, u.layer, u.matrix_head[lm], checks.profile_sums[m], counts});
        }
        matrices += static_cast<std::int64_t>(u.matrix_head.size());
      }
      post_results(slot, std::exchange(slot.last_keys, {}), std::move(profiles), matrices);
      slot.launch.reset();
    }

    // On the results thread (inline when the sink may not be called from one): copies the slot's
    // last search batch back (its stream has completed it) into a spare batch of the sink, and hands
    // it over with `profiles`; then reports `matrices` more done. Batches reach the sink in the
    // order they are posted; the slot's device buffers stay untouched until wait_for_results().
    void post_results(Slot& slot, std::vector<JobKey> keys, std::vector<AttentionProfile> profiles,
                      std::int64_t matrices) {
      slot.with_results = true;
      results_.post([this, &slot, keys = std::move(keys), profiles = std::move(profiles), matrices]() mutable {
        TraceBatch batch;
        if (!keys.empty()) {
          gpu::cuda_check(cudaSetDevice(device_), "cudaSetDevice (results thread)");
          batch = sink_.spare();
          {
            const PhaseTimer fetching(times.fetch_s);
            slot.workspace.fetch_batch(slot.stream.get(), batch.results);
          }
          batch.results.jobs.assign(keys.begin(), keys.end());
          if (batch.results.path_begin.size() != keys.size() + 1) throw std::logic_error("gpu: batch result size mismatch");
        }
        batch.profiles = std::move(profiles);
        {
          const PhaseTimer delivering(times.deliver_s);
          sink_.consume(std::move(batch));
        }
        if (matrices == 0) return;
        done_matrices_ += matrices;
        if (progress_) progress_(done_matrices_, total_matrices_);
      });
    }

    void wait_for_results() {
      double inline_wait_s = 0;  // inline, wait() never waits (it only rethrows): not a phase
      {
        const PhaseTimer waiting(results_.has_thread() ? times.results_wait_s : inline_wait_s);
        results_.wait();
      }
      for (const auto& s : slots_) s->with_results = false;
    }

    // The hand-off rule: the host thread touches a slot's workspace only while the results thread
    // has nothing of it (every post is followed by wait_for_results before the slot's next use).
    static void expect_own(const Slot& slot) {
      if (slot.with_results) throw std::logic_error("gpu: slot reused while the results thread reads it");
    }

    // The GPU saw a bad value somewhere in this launch. Every earlier launch was clean, so the CPU
    // reference's first error lies in one of this launch's (sequence, layer)s: re-read each of them,
    // heads in the CPU reference's order (every head for mean/max, else the planned heads in plan
    // order), and check them with the CPU's own check, which throws its message.
    [[noreturn]] void report_bad_values(const Launch& launch) {
      RowSumTally ignored;
      std::vector<float> head;
      std::set<std::pair<const SequencePlan*, int>> checked;
      for (const Unit* u : launch.units) {
        if (!checked.emplace(u->seq, u->layer).second) continue;
        const SequencePlan& seq = *u->seq;
        const SequenceInfo& info = reader_.sequences()[seq.seq_index];
        const std::vector<int> order = seq.heads_read(info.num_heads);
        const std::string label = reader_.dataset_label(seq.seq_index, "attention");
        head.resize(static_cast<std::size_t>(seq.seq_len) * seq.seq_len);
        for (const int h : order) {
          reader_.read_heads(seq.seq_index, u->layer, h, 1, head.data());
          check_attention_values(head.data(), seq.seq_len, fmt::format("{} layer {} head {}", label, u->layer, h),
                                 ignored);  // throws InputError at the first bad element
        }
      }
      const Unit& first = *launch.units.front();
      throw InputError(fmt::format("{} layer {}: NaN, Inf or negative attention values",
                                   reader_.dataset_label(first.seq->seq_index, "attention"), first.layer));
    }

    const CorpusReader& reader_;
    const TracePlan& plan_;
    const SearchParams& params_;
    BatchSink& sink_;
    const ProgressFn& progress_;
    std::size_t slot_budget_;
    ThreadPool& pack_pool_;
    std::vector<unsigned char> staging_;  // float64 heads narrowed to float32, before packing
    std::int64_t done_matrices_ = 0;      // the results thread's, once the run has started
    std::int64_t total_matrices_ = 0;
    int device_;
    std::array<std::unique_ptr<Slot>, 2> slots_;
    SerialWorker results_;  // after slots_: destroyed (its running task done) before them
  };

  GpuOptions options_;
  std::string name_;
  ThreadPool pack_pool_;
};

}  // namespace

GpuStatus query_gpu() {
  try {
    return probe_device(0);
  } catch (const std::exception& e) {
    return GpuStatus{false, "", e.what()};
  }
}

std::unique_ptr<Engine> make_gpu_engine(const GpuOptions& options) {
  const GpuStatus status = probe_device(options.device);
  if (!status.usable) throw UsageError("no usable GPU: " + status.reason);
  return std::make_unique<GpuEngine>(options, status.name);
}

}  // namespace ratrace
