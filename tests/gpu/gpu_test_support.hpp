#pragma once
// Helpers of the GPU tests: skip without a GPU, run one stage on the device synchronously.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gpu/cuda_util.hpp"
#include "gpu/launch_layout.hpp"
#include "gpu/workspace.hpp"
#include "ratrace/detail/packed_layout.hpp"
#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/engine.hpp"
#include "ratrace/results.hpp"
#include "synth/narrow_float.hpp"

// First statement of every GPU test.
#define RATRACE_REQUIRE_GPU()                                                        \
  do {                                                                               \
    const ::ratrace::GpuStatus gpu_status_ = ::ratrace::query_gpu();                 \
    if (!gpu_status_.usable) GTEST_SKIP() << "no usable GPU: " << gpu_status_.reason; \
  } while (0)

namespace ratrace::gpu_test {

// Heads of one layer in a device element type, and the float32 values the CPU should see.
struct Heads {
  gpu::ElemType elem = gpu::ElemType::f32;
  int num_heads = 0;
  int seq_len = 0;
  std::vector<unsigned char> raw;     // as stored: dense [H][S][S] (run_launch packs it)
  std::vector<std::vector<float>> widened;  // per head [S][S], exactly what the GPU reads

  const float* head(int h) const { return widened[static_cast<std::size_t>(h)].data(); }
};

// Stores float32 matrices as `elem` (narrowing to nearest for f16 / bf16).
inline Heads make_heads(const std::vector<std::vector<float>>& matrices, int seq_len, gpu::ElemType elem) {
  Heads h;
  h.elem = elem;
  h.num_heads = static_cast<int>(matrices.size());
  h.seq_len = seq_len;
  const std::size_t n = static_cast<std::size_t>(seq_len) * seq_len;
  h.raw.resize(matrices.size() * n * gpu::elem_size(elem));
  for (std::size_t m = 0; m < matrices.size(); ++m) {
    std::vector<float> w(n);
    for (std::size_t k = 0; k < n; ++k) {
      const float v = matrices[m][k];
      if (elem == gpu::ElemType::f32) {
        w[k] = v;
        std::memcpy(h.raw.data() + (m * n + k) * 4, &v, 4);
      } else {
        const std::uint16_t b =
            elem == gpu::ElemType::f16 ? synth::float_to_half_bits(v) : synth::float_to_bfloat16_bits(v);
        w[k] = elem == gpu::ElemType::f16 ? detail::half_bits_to_float(b) : detail::bfloat16_bits_to_float(b);
        std::memcpy(h.raw.data() + (m * n + k) * 2, &b, 2);
      }
    }
    h.widened.push_back(std::move(w));
  }
  return h;
}

// One unit of a test launch: some heads of one layer and what is traced over them.
struct UnitInput {
  const Heads* heads = nullptr;
  std::vector<int> traced;
  bool mean = false;
  bool max = false;
  std::vector<std::uint8_t> key_mask;
};

struct LaunchRun {
  gpu::LaunchLayout layout;
  std::vector<std::vector<CandidateTable>> tables;              // [unit][local matrix]
  std::vector<std::vector<std::array<double, kDistanceBins>>> profiles;  // [unit][local matrix]
  gpu::LayerChecks checks;
};

// Runs one top-K launch over several units (one element type) as the engine does: packed lower
// triangles laid out by make_launch_layout, one enqueue_launch.
inline LaunchRun run_launch(const std::vector<UnitInput>& units, int top_k, double min_attn,
                            int head_warps_per_row = gpu::kHeadWarpsPerRow) {
  gpu::LaunchSpec spec;
  spec.elem = units.front().heads->elem;
  spec.top_k = top_k;
  spec.min_attn = min_attn;
  spec.head_warps_per_row = head_warps_per_row;
  for (const UnitInput& u : units) {
    gpu::UnitSpec s;
    s.num_heads = u.heads->num_heads;
    s.seq_len = u.heads->seq_len;
    s.traced.assign(u.traced.begin(), u.traced.end());
    s.mean = u.mean;
    s.max = u.max;
    s.key_mask = u.key_mask;
    spec.units.push_back(std::move(s));
  }
  LaunchRun run;
  run.layout = gpu::make_launch_layout(spec);
  const std::size_t esize = gpu::elem_size(spec.elem);
  std::vector<unsigned char> packed(static_cast<std::size_t>(run.layout.raw_elems) * esize + 1);
  for (std::size_t k = 0; k < units.size(); ++k) {
    const Heads& h = *units[k].heads;
    const std::int64_t S = h.seq_len;
    for (int r = 0; r < h.num_heads; ++r)
      detail::pack_lower_triangle(h.raw.data() + static_cast<std::size_t>(r * S * S) * esize, S, esize,
                                  packed.data() + static_cast<std::size_t>(run.layout.unit_raw_offset[k] +
                                                                           r * detail::packed_matrix_elems(S)) * esize);
  }
  gpu::Stream stream;
  gpu::Workspace ws;
  ws.enqueue_launch(run.layout, packed.data(), stream.get());
  ws.enqueue_fetch_checks(stream.get());
  stream.sync();
  run.checks = ws.checks();
  std::vector<CandidateTable> all = ws.download_tables(stream.get());
  for (std::size_t k = 0; k < units.size(); ++k) {
    run.tables.emplace_back();
    run.profiles.emplace_back();
    for (const std::int32_t m : run.layout.unit_matrices[k]) {
      run.tables.back().push_back(all[static_cast<std::size_t>(m)]);
      run.profiles.back().push_back(run.checks.profile_sums[static_cast<std::size_t>(m)]);
    }
  }
  return run;
}

struct TopkRun {
  std::vector<CandidateTable> tables;  // per matrix (traced heads, then mean, then max)
  gpu::LayerChecks checks;             // profile_sums in the same order
};

inline TopkRun run_topk(const Heads& heads, const std::vector<int>& traced, bool mean, bool max, int top_k,
                        double min_attn, const std::vector<std::uint8_t>& key_mask = {}) {
  UnitInput u;
  u.heads = &heads;
  u.traced = traced;
  u.mean = mean;
  u.max = max;
  u.key_mask = key_mask;
  LaunchRun launch = run_launch({u}, top_k, min_attn);
  TopkRun run;
  run.tables = std::move(launch.tables[0]);
  run.checks = launch.checks;
  run.checks.profile_sums = launch.profiles[0];
  return run;
}

struct Job {
  int matrix;
  int target;
};

// Runs `jobs` over host tables (any lengths, one top_k) on the GPU; results in job order.
inline std::vector<std::vector<PathResult>> run_beams(const std::vector<const CandidateTable*>& tables,
                                                      const std::vector<Job>& jobs,
                                                      const std::vector<std::uint8_t>& is_bos,
                                                      const SearchParams& params,
                                                      gpu::BeamKernel kernel = gpu::BeamKernel::automatic) {
  gpu::Stream stream;
  gpu::Workspace ws;
  ws.enqueue_tables(tables, is_bos, params.stop_at_bos, stream.get());
  std::vector<gpu::BeamJob> batch;
  std::int64_t arena = 0;
  for (const Job& j : jobs) {
    batch.push_back(gpu::BeamJob{j.matrix, j.target, arena});
    arena += static_cast<std::int64_t>(j.target + 1) * params.top_beam;
  }
  ws.enqueue_batch(batch, params, stream.get(), kernel);
  TraceResults results;
  ws.fetch_batch(stream.get(), results);
  results.jobs.resize(jobs.size());
  std::vector<std::vector<PathResult>> out;
  for (std::size_t k = 0; k < jobs.size(); ++k) out.push_back(results.job_paths(k));
  return out;
}

// Random causal matrix, rows summing to 1 over j <= i, NaN above the diagonal (never read);
// levels > 0 quantises to multiples of 1/levels (exact ties).
inline std::vector<float> random_matrix(int S, std::mt19937_64& rng, int levels = 0, double zeros = 0.2) {
  std::vector<float> m(static_cast<std::size_t>(S) * S, std::numeric_limits<float>::quiet_NaN());
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < S; ++i) {
    std::vector<double> w(static_cast<std::size_t>(i) + 1);
    double total = 0.0;
    for (double& x : w) total += (x = u(rng) < zeros ? 0.0 : u(rng) * u(rng));
    for (int j = 0; j <= i; ++j) {
      double a = total > 0.0 ? w[j] / total : (j == i ? 1.0 : 0.0);
      if (levels > 0) a = std::floor(a * levels + 0.5) / levels;
      m[static_cast<std::size_t>(i) * S + j] = static_cast<float>(a);
    }
  }
  return m;
}

}  // namespace ratrace::gpu_test
