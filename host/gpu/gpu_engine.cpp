// The GPU engine: streams the corpus through the device one unit at a time.
//
// Unit = the heads of one layer of one sequence that one top-K pass needs (every head when mean or
// max is traced, else the traced heads, split into groups when they exceed the memory bound),
// plus every search over that unit's tables. Two units are in flight, each with its own stream,
// pinned host buffer and device workspace: while unit n's copy and kernels run, the host thread
// reads unit n+1 from HDF5 into the other pinned buffer (reading dominates, so the GPU work hides
// behind it), and collects unit n-1's results when it reuses that slot.
//
// Choices, documented:
// - Whole S x S heads are copied, not just the causal half: packing the lower triangle would be
//   one more host pass over the data on the thread that already bounds the run (the HDF5 read),
//   while the full copy overlaps with that read anyway. Kernels never read above the diagonal.
// - float64 corpora are narrowed to float32 on the host (read_heads); float16 / bfloat16 /
//   float32 travel as stored and are widened on the GPU by the shared detail:: rules.
// - Short sequences are not merged into one launch: each unit is a few launches (~10 us each),
//   which hide behind the next unit's read.
// - Memory: GpuOptions::mem_limit_bytes (0 = 70% of free device memory) is split between the two
//   slots. A unit's resident heads and tables must fit in half (per-head units are split into head
//   groups to fit; a layer with mean/max needs all its heads at once); the searches of a unit run
//   in batches whose history arenas fit in the rest.
// - Bad values: the kernels raise a flag; the host then checks the unit's heads (still in the
//   pinned buffer) with check_attention_values, in head order, so the error names the same first
//   element as the CPU reference does.
// - Distance profiles are computed on the GPU, fused into the top-K pass (see kernels/row_topk.cu).
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "gpu/cuda_util.hpp"
#include "gpu/workspace.hpp"
#include "ratrace/detail/float_convert.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/validate.hpp"

namespace ratrace {
namespace {

using gpu::BeamJob;
using gpu::ElemType;
using gpu::LayerSpec;
using gpu::Workspace;

constexpr double kDefaultMemFraction = 0.70;

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
  if (prop.major < 9) {
    status.reason = fmt::format("{} has compute capability {}.{}; this build targets sm_90 and newer", prop.name,
                                prop.major, prop.minor);
    return status;
  }
  err = cudaSetDevice(device);
  if (err == cudaSuccess) err = cudaFree(nullptr);  // creates the context: catches driver trouble now
  if (err != cudaSuccess) {
    status.reason = cudaGetErrorString(err);
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
  std::vector<int> load_heads;   // heads read, in order; resident index = position here
  std::vector<int> matrix_head;  // per matrix: head index, kHeadMean or kHeadMax
  LayerSpec spec;
};

// Element counts per distance bin of an S x S causal matrix, as accumulate_attention_profile counts.
std::array<std::int64_t, kDistanceBins> profile_counts(int S) {
  std::array<std::int64_t, kDistanceBins> count{};
  for (std::int64_t d = 1; d < S; ++d) count[distance_bin(static_cast<std::int32_t>(d))] += S - d;
  return count;
}

// Widens resident head r of a unit's pinned buffer to float32 (host copy of the GPU's rule).
std::vector<float> widen_head(const void* raw, ElemType elem, int r, int S) {
  const std::size_t n = static_cast<std::size_t>(S) * S;
  std::vector<float> out(n);
  if (elem == ElemType::f32) {
    std::memcpy(out.data(), static_cast<const float*>(raw) + r * n, n * sizeof(float));
  } else {
    const auto* bits = static_cast<const std::uint16_t*>(raw) + r * n;
    for (std::size_t k = 0; k < n; ++k)
      out[k] = elem == ElemType::f16 ? detail::half_bits_to_float(bits[k]) : detail::bfloat16_bits_to_float(bits[k]);
  }
  return out;
}

class GpuEngine final : public Engine {
 public:
  GpuEngine(const GpuOptions& options, std::string name) : options_(options), name_(std::move(name)) {}

  std::string device_description() const override { return "gpu: " + name_; }

  TraceOutput run(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params,
                  const ProgressFn& progress) override {
    params.validate();
    gpu::cuda_check(cudaSetDevice(options_.device), "cudaSetDevice");
    Run run(reader, plan, params, progress, slot_budget());
    run.execute();
    return std::move(run.out);
  }

 private:
  std::size_t slot_budget() const {
    std::size_t free_bytes = 0, total_bytes = 0;
    gpu::cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    const std::size_t limit = options_.mem_limit_bytes > 0
                                  ? static_cast<std::size_t>(options_.mem_limit_bytes)
                                  : static_cast<std::size_t>(kDefaultMemFraction * static_cast<double>(free_bytes));
    return limit / 2;
  }

  // One slot of the two-deep pipeline.
  struct Slot {
    ~Slot() { cudaStreamSynchronize(stream.get()); }  // nothing in flight when the buffers go
    gpu::Stream stream;
    gpu::PinnedBuffer raw_host;
    Workspace workspace;
    std::optional<Unit> unit;       // in flight
    std::vector<JobKey> last_keys;  // keys of the last batch, in device order
  };

  class Run {
   public:
    Run(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params, const ProgressFn& progress,
        std::size_t slot_budget)
        : reader_(reader), plan_(plan), params_(params), progress_(progress), slot_budget_(slot_budget) {}

    TraceOutput out;

    void execute() {
      const std::vector<Unit> units = build_units();
      total_matrices_ = plan_.num_matrices();
      std::array<std::unique_ptr<Slot>, 2> slots{std::make_unique<Slot>(), std::make_unique<Slot>()};
      for (std::size_t n = 0; n < units.size(); ++n) {
        Slot& slot = *slots[n % 2];
        if (slot.unit) harvest(slot);
        stage(units[n], slot);
        enqueue(units[n], slot);
      }
      // Collect in unit order: the older unit sits in the slot after the last one used.
      for (std::size_t k = 0; k < 2; ++k) {
        Slot& slot = *slots[(units.size() + k) % 2];
        if (slot.unit) harvest(slot);
      }
    }

   private:
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
        for (const int layer : seq.layers) {
          if (layer < 0 || layer >= info.num_layers)
            throw std::invalid_argument(fmt::format("plan: layer {} of sequence '{}' is outside [0, {})", layer, info.name, info.num_layers));
          Unit base;
          base.seq = &seq;
          base.layer = layer;
          base.dtype = info.dtype;
          base.spec.elem = device_elem(info.dtype);
          base.spec.seq_len = S;
          base.spec.top_k = params_.top_k;
          base.spec.min_attn = params_.min_attn;
          base.spec.stop_at_bos = params_.stop_at_bos;
          const std::size_t min_job = Workspace::job_bytes(S - 1, params_.top_beam);
          if (mean || max) {
            Unit u = base;
            for (int h = 0; h < info.num_heads; ++h) u.load_heads.push_back(h);
            u.spec.num_heads = info.num_heads;
            u.spec.traced.assign(per_head.begin(), per_head.end());
            u.spec.mean = mean;
            u.spec.max = max;
            u.matrix_head = per_head;
            if (mean) u.matrix_head.push_back(kHeadMean);
            if (max) u.matrix_head.push_back(kHeadMax);
            const std::size_t need = Workspace::layer_bytes(u.spec) + min_job;
            if (need > slot_budget_)
              throw UsageError(fmt::format(
                  "sequence '{}' layer {}: mean/max over {} heads of {}x{} needs {} MiB of GPU memory, more than "
                  "the {} MiB available per stream (raise --gpu-mem, or use --device cpu)",
                  info.name, layer, info.num_heads, S, S, need >> 20, slot_budget_ >> 20));
            units.push_back(std::move(u));
          } else {
            // Heads in ascending order, so that contiguous ones are read in one call.
            std::vector<int> heads = per_head;
            std::sort(heads.begin(), heads.end());
            std::size_t group = heads.size();
            const auto group_bytes = [&](std::size_t g) {
              LayerSpec spec = base.spec;
              spec.num_heads = static_cast<int>(g);
              spec.traced.resize(g);
              return Workspace::layer_bytes(spec) + min_job;
            };
            while (group > 1 && group_bytes(group) > slot_budget_) group = (group + 1) / 2;
            if (group_bytes(group) > slot_budget_)
              throw UsageError(fmt::format(
                  "sequence '{}' layer {}: one {}x{} head needs {} MiB of GPU memory, more than the {} MiB "
                  "available per stream (raise --gpu-mem, or use --device cpu)",
                  info.name, layer, S, S, group_bytes(1) >> 20, slot_budget_ >> 20));
            for (std::size_t g0 = 0; g0 < heads.size(); g0 += group) {
              Unit u = base;
              for (std::size_t k = g0; k < std::min(heads.size(), g0 + group); ++k) {
                u.spec.traced.push_back(static_cast<int>(u.load_heads.size()));
                u.load_heads.push_back(heads[k]);
                u.matrix_head.push_back(heads[k]);
              }
              u.spec.num_heads = static_cast<int>(u.load_heads.size());
              units.push_back(std::move(u));
            }
          }
        }
      }
      return units;
    }

    // Reads the unit's heads into the slot's pinned buffer (the host side of the pipeline).
    void stage(const Unit& u, Slot& slot) {
      const std::size_t S = static_cast<std::size_t>(u.spec.seq_len);
      const std::size_t head_bytes = S * S * gpu::elem_size(u.spec.elem);
      auto* dst = static_cast<unsigned char*>(slot.raw_host.reserve(head_bytes * u.load_heads.size()));
      for (std::size_t k = 0; k < u.load_heads.size();) {
        std::size_t run = 1;  // contiguous heads go in one read
        while (k + run < u.load_heads.size() && u.load_heads[k + run] == u.load_heads[k] + static_cast<int>(run)) ++run;
        void* at = dst + k * head_bytes;
        if (u.dtype == AttnDtype::float64)
          reader_.read_heads(u.seq->seq_index, u.layer, u.load_heads[k], static_cast<int>(run), static_cast<float*>(at));
        else
          reader_.read_heads_raw(u.seq->seq_index, u.layer, u.load_heads[k], static_cast<int>(run), at);
        k += run;
      }
    }

    void enqueue(const Unit& u, Slot& slot) {
      const cudaStream_t stream = slot.stream.get();
      slot.workspace.enqueue_layer(u.spec, slot.raw_host.get(), u.seq->key_mask, u.seq->is_bos, stream);
      slot.workspace.enqueue_fetch_checks(stream);

      // Jobs, longest searches first; batches bounded by the memory left beside the tables.
      struct HostJob {
        BeamJob job;
        JobKey key;
      };
      std::vector<HostJob> jobs;
      for (int m = 0; m < u.spec.num_matrices(); ++m)
        for (const int t : u.seq->targets)
          jobs.push_back(HostJob{BeamJob{m, t, 0}, JobKey{u.seq->seq_index, u.layer, u.matrix_head[m], t}});
      std::stable_sort(jobs.begin(), jobs.end(), [](const HostJob& a, const HostJob& b) { return a.job.target > b.job.target; });
      const std::size_t layer_bytes = Workspace::layer_bytes(u.spec);
      const std::size_t room = slot_budget_ > layer_bytes ? slot_budget_ - layer_bytes : 0;

      const std::size_t scan_bytes = gpu::scan_temp_bytes(static_cast<std::int64_t>(jobs.size()), params_.top_beam);
      std::size_t k = 0;
      while (k < jobs.size()) {
        std::vector<BeamJob> batch;
        std::vector<JobKey> keys;
        std::size_t bytes = scan_bytes;  // enough for the largest batch
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
        if (k < jobs.size()) {
          append(slot.workspace.fetch_batch(stream), keys);  // waits: the next batch reuses the buffers
        } else {
          slot.last_keys = std::move(keys);
        }
      }
      if (jobs.empty()) slot.last_keys.clear();
      slot.unit = u;
    }

    void harvest(Slot& slot) {
      const Unit& u = *slot.unit;
      const cudaStream_t stream = slot.stream.get();
      slot.stream.sync();
      const gpu::LayerChecks checks = slot.workspace.checks();
      if (checks.bad_values) report_bad_values(u, slot.raw_host.get());
      out.row_sums.rows_checked += static_cast<std::int64_t>(u.load_heads.size()) * u.spec.seq_len;
      out.row_sums.rows_off += checks.rows_off;
      const auto counts = profile_counts(u.spec.seq_len);
      for (int m = 0; m < u.spec.num_matrices(); ++m)
        out.profiles.push_back(AttentionProfile{u.seq->seq_index, u.layer, u.matrix_head[m], checks.profile_sums[m], counts});
      if (!slot.last_keys.empty()) append(slot.workspace.fetch_batch(stream), slot.last_keys);
      slot.unit.reset();
      done_matrices_ += u.spec.num_matrices();
      if (progress_) progress_(done_matrices_, total_matrices_);
    }

    void append(const gpu::BatchResult& r, const std::vector<JobKey>& keys) {
      TraceResults piece;
      piece.jobs = keys;
      piece.path_begin = r.path_begin;
      piece.score_raw = r.score_raw;
      piece.score_norm = r.score_norm;
      piece.node_begin = r.node_begin;
      piece.node_position = r.node_position;
      piece.node_edge_attn = r.node_edge_attn;
      if (piece.path_begin.size() != keys.size() + 1) throw std::logic_error("gpu: batch result size mismatch");
      out.results.append(piece);
    }

    [[noreturn]] void report_bad_values(const Unit& u, const void* raw) {
      const std::string label = reader_.dataset_label(u.seq->seq_index, "attention");
      RowSumTally ignored;
      // The CPU reference reads every head in order for mean/max, else the planned heads in plan order.
      std::vector<std::size_t> order(u.load_heads.size());
      for (std::size_t r = 0; r < order.size(); ++r) order[r] = r;
      if (!u.spec.mean && !u.spec.max) {
        const auto rank = [&](std::size_t r) {
          return std::find(u.seq->heads.begin(), u.seq->heads.end(), u.load_heads[r]) - u.seq->heads.begin();
        };
        std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return rank(x) < rank(y); });
      }
      for (const std::size_t r : order) {
        const std::vector<float> head = widen_head(raw, u.spec.elem, static_cast<int>(r), u.spec.seq_len);
        check_attention_values(head.data(), u.spec.seq_len, fmt::format("{} layer {} head {}", label, u.layer, u.load_heads[r]),
                               ignored);  // throws InputError at the first bad element
      }
      throw InputError(fmt::format("{} layer {}: NaN, Inf or negative attention values", label, u.layer));
    }

    const CorpusReader& reader_;
    const TracePlan& plan_;
    const SearchParams& params_;
    const ProgressFn& progress_;
    std::size_t slot_budget_;
    std::int64_t done_matrices_ = 0;
    std::int64_t total_matrices_ = 0;
  };

  GpuOptions options_;
  std::string name_;
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
