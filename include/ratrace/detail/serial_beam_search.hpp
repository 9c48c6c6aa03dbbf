#pragma once
// The beam search of SPEC §1.3 for one job, run start to end by one thread: the GPU's
// thread-per-job kernel (kernels/beam_search.cu) runs it on the device, and CI runs it on the host
// against the CPU reference (tests/test_serial_beam_search.cpp), so the code the GPU runs is the
// code CI checks.
//
// Why one thread per job: with one warp per job and the beams on its lanes, a default search
// (B = 5) leaves 27 of 32 lanes idle, and every pick of the next beams is a chain of warp
// collectives. Here the 32 lanes of a warp run 32 jobs (the engine orders jobs by target, so they
// have about the same depth), and each job's state stays in registers: every loop over beams runs
// to the compile-time bound kMaxBeams (unrolled, guarded by the run-time beam count), so no array
// is indexed at run time. Larger B stays with the warp kernel.
//
// It reads a matrix's finished candidate rows (entries, edge log-probabilities, counts and
// path-ending bits, as finish_tables fills them) and writes what the warp kernel writes: one
// history record per kept active beam per step, at (step + 1) * B + slot (record 0 = the target),
// and the running top-B terminal list, each entry naming the active beam (step, slot) it continues
// plus an optional last edge.
#include <cstdint>

#include "ratrace/candidate_table.hpp"
#include "ratrace/detail/float_convert.hpp"
#include "ratrace/detail/host_device.hpp"
#include "ratrace/detail/scoring.hpp"
#include "ratrace/params.hpp"

namespace ratrace::detail {

// The largest B the serial search is built for (the GPU kernel's one instantiation).
inline constexpr int kSerialSearchMaxBeams = 8;

// The candidate rows of one matrix as a search reads them: row i's entries at i * top_k.
struct search_rows_ref {
  const Candidate* entries = nullptr;
  const double* logp = nullptr;              // edge_logprob of each entry
  const std::int32_t* count = nullptr;       // entries per row
  const std::uint32_t* end_mask = nullptr;   // bit r: entry r ends a path
  std::int32_t top_k = 0;
};

// Index of the lowest set bit of a non-zero word.
RATRACE_HD int lowest_bit(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __ffs(static_cast<int>(bits)) - 1;
#else
  return __builtin_ctz(bits);
#endif
}

// Bits 0 .. count - 1: the entries of a row of `count` candidates (count <= 32).
RATRACE_HD std::uint32_t row_bits(int count) { return count >= 32 ? 0xffffffffu : ((1u << count) - 1u); }

// The running top-B of the terminal list in SPEC order (normalised score descending, ties in
// append order): a newcomer goes after every kept entry whose score is >= its own, and what falls
// past B is dropped, which leaves exactly the first B of the final stable sort.
template <int kMaxBeams>
struct SerialTerminals {
  int size = 0;
  double norm[kMaxBeams] = {};
  double raw[kMaxBeams] = {};
  int beam[kMaxBeams] = {};       // the active beam it continues, step * 32 + slot (history record step * B + slot)
  int extra_pos[kMaxBeams] = {};  // its last edge's position, or -1 when it is that beam itself
  float extra_attn[kMaxBeams] = {};

  RATRACE_HD int step(int k) const { return beam[k] >> 5; }
  RATRACE_HD int slot(int k) const { return beam[k] & 31; }

  RATRACE_HD void append(double e_norm, double e_raw, int e_step, int e_slot, int e_extra_pos, float e_extra_attn,
                         int top_beam) {
    const int e_beam = (e_step << 5) | e_slot;
    int at = 0;  // kept entries are sorted, so those >= e_norm are a prefix
RATRACE_UNROLL
    for (int k = 0; k < kMaxBeams; ++k) at += (k < size && norm[k] >= e_norm) ? 1 : 0;
    if (at >= top_beam) return;
RATRACE_UNROLL
    for (int k = kMaxBeams - 1; k > 0; --k) {
      if (k > at) {
        norm[k] = norm[k - 1];
        raw[k] = raw[k - 1];
        beam[k] = beam[k - 1];
        extra_pos[k] = extra_pos[k - 1];
        extra_attn[k] = extra_attn[k - 1];
      }
    }
RATRACE_UNROLL
    for (int k = 0; k < kMaxBeams; ++k) {
      if (k == at) {
        norm[k] = e_norm;
        raw[k] = e_raw;
        beam[k] = e_beam;
        extra_pos[k] = e_extra_pos;
        extra_attn[k] = e_extra_attn;
      }
    }
    if (size < top_beam) ++size;
  }
};

// Runs the job (rows, target) with top_beam <= kMaxBeams; record(index, pos, parent_slot, attn)
// stores a history record (index counted from the job's first). Leaves the result in `terminal`.
template <int kMaxBeams, class Record>
RATRACE_HD void serial_beam_search(const search_rows_ref& rows, int target, int top_beam, LengthNormKind norm_kind,
                                   double norm_alpha, Record& record, SerialTerminals<kMaxBeams>& terminal) {
  const std::int64_t K = rows.top_k;
  int pos[kMaxBeams] = {};     // active beam b: its last position and raw score
  double raw[kMaxBeams] = {};
  pos[0] = target;
  record(0, target, -1, bits_to_float(0x7fc00000u));  // the target alone: no edge (NaN)
  int num_active = 1;
  for (int step = 0; num_active > 0; ++step) {
    const double denom_here = score_denominator(step, norm_kind, norm_alpha);
    const double denom_next = score_denominator(step + 1, norm_kind, norm_alpha);

    // 1a. Beams that cannot extend (position 0, or no candidates) end as they are, in active
    // order; the others split their row into expansions that end a path and ones that go on.
    std::uint32_t ends[kMaxBeams], open[kMaxBeams];
RATRACE_UNROLL
    for (int b = 0; b < kMaxBeams; ++b) {
      ends[b] = 0;
      open[b] = 0;
      if (b < num_active) {
        const int count = pos[b] == 0 ? 0 : rows.count[pos[b]];
        if (count == 0) {
          terminal.append(raw[b] / denom_here, raw[b], step, b, -1, 0.0f, top_beam);
        } else {
          const std::uint32_t in_row = row_bits(count);
          const std::uint32_t mask = rows.end_mask[pos[b]];
          ends[b] = mask & in_row;
          open[b] = ~mask & in_row;
        }
      }
    }

    // 1b. Expansions that end a path, in (beam, rank) order: SPEC's append order.
RATRACE_UNROLL
    for (int b = 0; b < kMaxBeams; ++b) {
      for (std::uint32_t bits = ends[b]; bits != 0; bits &= bits - 1) {
        const std::int64_t e = pos[b] * K + lowest_bit(bits);
        const Candidate cand = rows.entries[e];
        const double e_raw = raw[b] + rows.logp[e];
        terminal.append(e_raw / denom_next, e_raw, step, b, cand.pos, cand.attn, top_beam);
      }
    }

    // 2. The next active beams: the first B of the stable sort of the expansions that go on. Each
    // beam's expansions come out of its row already in score order (weights descending, and all
    // have step + 1 edges), so this is a merge: B picks of the best head, earliest beam on ties.
    int head[kMaxBeams];
    double head_raw[kMaxBeams], head_norm[kMaxBeams];
RATRACE_UNROLL
    for (int b = 0; b < kMaxBeams; ++b) {
      head[b] = open[b] != 0 ? lowest_bit(open[b]) : -1;
      head_raw[b] = head[b] >= 0 ? raw[b] + rows.logp[pos[b] * K + head[b]] : 0.0;
      head_norm[b] = head_raw[b] / denom_next;
    }
    int next_pos[kMaxBeams] = {};
    double next_raw[kMaxBeams] = {};
    int num_next = 0;
    for (; num_next < top_beam; ++num_next) {
      int w = -1, w_pos = 0, w_head = 0;
      double w_norm = 0.0, w_raw = 0.0;
RATRACE_UNROLL
      for (int b = 0; b < kMaxBeams; ++b) {
        if (head[b] >= 0 && (w < 0 || head_norm[b] > w_norm)) {
          w = b;
          w_pos = pos[b];
          w_head = head[b];
          w_norm = head_norm[b];
          w_raw = head_raw[b];
        }
      }
      if (w < 0) break;  // no expansion left
      const Candidate cand = rows.entries[w_pos * K + w_head];
      record(static_cast<std::int64_t>(step + 1) * top_beam + num_next, cand.pos, w, cand.attn);
RATRACE_UNROLL
      for (int b = 0; b < kMaxBeams; ++b) {
        if (b == num_next) {
          next_pos[b] = cand.pos;
          next_raw[b] = w_raw;
        }
        if (b == w) {  // the winner's next expansion becomes its head
          open[b] &= open[b] - 1;
          head[b] = open[b] != 0 ? lowest_bit(open[b]) : -1;
          if (head[b] >= 0) {
            head_raw[b] = raw[b] + rows.logp[pos[b] * K + head[b]];
            head_norm[b] = head_raw[b] / denom_next;
          }
        }
      }
    }
RATRACE_UNROLL
    for (int b = 0; b < kMaxBeams; ++b) {
      pos[b] = next_pos[b];
      raw[b] = next_raw[b];
    }
    num_active = num_next;
  }
}

}  // namespace ratrace::detail
