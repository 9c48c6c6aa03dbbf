#pragma once
// What one GPU launch covers, and where each piece sits in its device buffers. Plain C++ (no CUDA
// headers), so that the CPU tests check the layout the kernels index with.
//
// A launch is a list of units; a unit is the resident heads of one layer of one sequence plus the
// matrices traced over them (some of its heads, their mean, their max). Each unit has its own
// seq_len, key mask and BOS flags, so units of different sequences share one top-K launch and one
// beam-search launch.
//   raw data  units one after the other; unit u's resident head r is the packed lower triangle
//             (detail/packed_layout.hpp) at element unit_raw_offset[u] + r * packed_matrix_elems(S).
//   matrices  numbered across the launch: every unit's per-head matrices first (unit order, then
//             traced order), then each unit's mean and max (unit order). Matrix m owns table rows
//             row_begin[m] .. row_begin[m + 1] - 1 (row i of m is table row row_begin[m] + i), so
//             the head kernel's blocks are exactly the first head_rows() table rows.
//   aggregates one descriptor per unit with mean or max; the aggregate kernel's blocks are the
//             prefix aggregate_row_begin over their seq_len.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ratrace/detail/packed_layout.hpp"

namespace ratrace::gpu {

// Element type of the matrices on the device. float64 inputs are narrowed to float32 on the host.
enum class ElemType : int { f16 = 0, bf16 = 1, f32 = 2 };

// Warps of the head top-K kernel's 4-warp blocks that share one row (TopkArgs::head_warps_per_row).
// 1, by a model not yet measured (BM_GpuRowTopK's W = 4 / 2 / 1 lines will say): what hides the
// memory's latency is the loads a warp has in flight, up to kChunkUnroll (8) chunks of 32 columns.
// A 1,024-token row has 16 chunks on average; shared by 4 warps, each has 4 in flight and the row
// pays 3 queue merges, where one warp has 8 and merges nothing. Long rows (4,096) keep all 8 in
// flight either way.
inline constexpr int kHeadWarpsPerRow = 1;

inline std::size_t elem_size(ElemType elem) { return elem == ElemType::f32 ? 4 : 2; }

// One unit: what the engine plans per (sequence, layer, head group).
struct UnitSpec {
  int num_heads = 0;                   // resident heads, in the order they are staged
  int seq_len = 0;
  std::vector<std::int32_t> traced;    // per-head matrices: resident head index of each
  bool mean = false;                   // mean / max over all resident heads
  bool max = false;
  std::vector<std::uint8_t> key_mask;  // [seq_len], or empty: every key valid
  std::vector<std::uint8_t> is_bos;    // [seq_len], or empty: no BOS positions

  // Local matrix numbering: traced heads first, then mean, then max.
  int num_matrices() const { return static_cast<int>(traced.size()) + (mean ? 1 : 0) + (max ? 1 : 0); }
  std::int64_t raw_elems() const { return num_heads * detail::packed_matrix_elems(seq_len); }
};

struct LaunchSpec {
  ElemType elem = ElemType::f32;  // one element type per launch (the kernels are typed)
  int top_k = 5;
  double min_attn = 0.0;
  bool stop_at_bos = true;
  int head_warps_per_row = kHeadWarpsPerRow;  // TopkArgs::head_warps_per_row
  std::vector<UnitSpec> units;
};

// Per-matrix descriptor, read by the kernels.
struct MatrixDesc {
  std::int64_t raw_offset = -1;   // per-head matrix: first element of its packed head; aggregate: -1
  std::int32_t seq_len = 0;
  std::int32_t mask_offset = -1;  // into the launch's key masks; -1: every key valid
  std::int32_t bos_offset = -1;   // into the launch's BOS flags; -1: no BOS positions
  std::int32_t check = 0;         // 1: the head kernel checks this head's values and row sums
};

// Per-unit descriptor of the aggregate kernel (units with mean or max; it checks every head).
struct AggregateDesc {
  std::int64_t raw_offset = 0;  // head 0 of the unit; head h at raw_offset + h * packed_matrix_elems(seq_len)
  std::int32_t num_heads = 0;
  std::int32_t seq_len = 0;
  std::int32_t mask_offset = -1;
  std::int32_t mean_matrix = -1;  // launch matrix index, or -1 when not traced
  std::int32_t max_matrix = -1;
  std::int32_t unused = 0;
};

// The kernels read these arrays as the host wrote them: keep the layouts fixed (no padding surprises
// between the host compiler and nvcc).
static_assert(sizeof(MatrixDesc) == 24 && alignof(MatrixDesc) == 8, "MatrixDesc layout");
static_assert(sizeof(AggregateDesc) == 32 && alignof(AggregateDesc) == 8, "AggregateDesc layout");

struct LaunchLayout {
  ElemType elem = ElemType::f32;
  int top_k = 5;
  double min_attn = 0.0;
  bool stop_at_bos = true;
  int head_warps_per_row = kHeadWarpsPerRow;

  std::vector<std::int64_t> unit_raw_offset;             // [units]
  std::int64_t raw_elems = 0;                            // packed elements of the whole launch
  std::vector<std::vector<std::int32_t>> unit_matrices;  // [units][local matrix] -> launch matrix
  std::vector<MatrixDesc> matrices;                      // [M]
  std::vector<std::int64_t> row_begin{0};                // [M + 1]
  int num_head_matrices = 0;
  std::vector<AggregateDesc> aggregates;                 // [A]
  std::vector<std::int64_t> aggregate_row_begin{0};      // [A + 1]
  int max_aggregate_heads = 0;
  std::vector<std::uint8_t> key_masks;                   // concatenated (MatrixDesc::mask_offset)
  std::vector<std::uint8_t> is_bos;                      // concatenated (MatrixDesc::bos_offset)

  int num_matrices() const { return static_cast<int>(matrices.size()); }
  std::int64_t rows() const { return row_begin.back(); }
  std::int64_t head_rows() const { return row_begin[static_cast<std::size_t>(num_head_matrices)]; }
  std::int64_t aggregate_rows() const { return aggregate_row_begin.back(); }
};

namespace launch_layout_detail {
// Appends `flags` to `all` unless they equal the previous unit's (units of one sequence share
// them); returns their offset, or -1 when empty.
inline std::int32_t add_flags(std::vector<std::uint8_t>& all, const std::vector<std::uint8_t>& flags,
                              const std::vector<std::uint8_t>*& previous, std::int32_t& previous_offset) {
  if (flags.empty()) return -1;
  if (previous != nullptr && *previous == flags) return previous_offset;
  previous_offset = static_cast<std::int32_t>(all.size());
  previous = &flags;
  all.insert(all.end(), flags.begin(), flags.end());
  return previous_offset;
}
}  // namespace launch_layout_detail

// Throws std::invalid_argument on an inconsistent spec (a bug in the caller, not bad input).
inline LaunchLayout make_launch_layout(const LaunchSpec& spec) {
  LaunchLayout l;
  l.elem = spec.elem;
  l.top_k = spec.top_k;
  l.min_attn = spec.min_attn;
  l.stop_at_bos = spec.stop_at_bos;
  l.head_warps_per_row = spec.head_warps_per_row;
  const std::size_t U = spec.units.size();
  std::vector<std::int32_t> mask_offset(U), bos_offset(U);
  const std::vector<std::uint8_t>* prev_mask = nullptr;
  const std::vector<std::uint8_t>* prev_bos = nullptr;
  std::int32_t prev_mask_offset = -1, prev_bos_offset = -1;
  for (std::size_t u = 0; u < U; ++u) {
    const UnitSpec& s = spec.units[u];
    const auto fail = [&](const std::string& what) {
      throw std::invalid_argument("launch layout: unit " + std::to_string(u) + ": " + what);
    };
    if (s.seq_len < 0 || s.num_heads < 0) fail("negative size");
    for (const std::int32_t r : s.traced)
      if (r < 0 || r >= s.num_heads) fail("traced head " + std::to_string(r) + " is not resident");
    if ((s.mean || s.max) && s.num_heads == 0) fail("aggregate over no heads");
    if (!s.key_mask.empty() && s.key_mask.size() != static_cast<std::size_t>(s.seq_len)) fail("key_mask size");
    if (!s.is_bos.empty() && s.is_bos.size() != static_cast<std::size_t>(s.seq_len)) fail("is_bos size");
    l.unit_raw_offset.push_back(l.raw_elems);
    l.raw_elems += s.raw_elems();
    mask_offset[u] = launch_layout_detail::add_flags(l.key_masks, s.key_mask, prev_mask, prev_mask_offset);
    bos_offset[u] = launch_layout_detail::add_flags(l.is_bos, s.is_bos, prev_bos, prev_bos_offset);
    l.unit_matrices.emplace_back(static_cast<std::size_t>(s.num_matrices()), -1);
  }
  const auto add_matrix = [&](std::size_t u, int local, std::int64_t raw_offset, bool check) {
    const UnitSpec& s = spec.units[u];
    MatrixDesc d;
    d.raw_offset = raw_offset;
    d.seq_len = s.seq_len;
    d.mask_offset = mask_offset[u];
    d.bos_offset = bos_offset[u];
    d.check = check ? 1 : 0;
    l.unit_matrices[u][static_cast<std::size_t>(local)] = static_cast<std::int32_t>(l.matrices.size());
    l.matrices.push_back(d);
    l.row_begin.push_back(l.row_begin.back() + s.seq_len);
    return static_cast<std::int32_t>(l.matrices.size() - 1);
  };
  // Per-head matrices of every unit first: their rows are the head kernel's blocks.
  for (std::size_t u = 0; u < U; ++u) {
    const UnitSpec& s = spec.units[u];
    const std::int64_t head_elems = detail::packed_matrix_elems(s.seq_len);
    const bool aggregated = s.mean || s.max;  // then the aggregate kernel checks every head
    for (std::size_t t = 0; t < s.traced.size(); ++t)
      add_matrix(u, static_cast<int>(t), l.unit_raw_offset[u] + s.traced[t] * head_elems, !aggregated);
  }
  l.num_head_matrices = static_cast<int>(l.matrices.size());
  for (std::size_t u = 0; u < U; ++u) {
    const UnitSpec& s = spec.units[u];
    if (!s.mean && !s.max) continue;
    AggregateDesc g;
    g.raw_offset = l.unit_raw_offset[u];
    g.num_heads = s.num_heads;
    g.seq_len = s.seq_len;
    g.mask_offset = mask_offset[u];
    int local = static_cast<int>(s.traced.size());
    if (s.mean) g.mean_matrix = add_matrix(u, local++, -1, false);
    if (s.max) g.max_matrix = add_matrix(u, local++, -1, false);
    l.aggregates.push_back(g);
    l.aggregate_row_begin.push_back(l.aggregate_row_begin.back() + s.seq_len);
    if (s.num_heads > l.max_aggregate_heads) l.max_aggregate_heads = s.num_heads;
  }
  return l;
}

}  // namespace ratrace::gpu
