#pragma once
// Scoring and ordering rules of SPEC §1.1-1.2, shared by the CPU reference and the CUDA kernels.
#include <cmath>
#include <cstdint>

#include "ratrace/detail/float_convert.hpp"
#include "ratrace/detail/host_device.hpp"
#include "ratrace/params.hpp"

namespace ratrace::detail {

// log(max(a, 1e-12)) in double, from the float32 weight widened exactly.
RATRACE_HD double edge_logprob(float attn) {
  const double a = static_cast<double>(attn);
  return log(a > 1e-12 ? a : 1e-12);
}

// What the normalised score of a beam with `n_edges` edges divides its raw score by (SPEC §1.2):
// 1 with no edges or `none`, else n, sqrt(n) or n^alpha. Every expansion of one search step has
// the same number of edges, so a search step computes this once instead of a sqrt or pow per
// expansion; the quotient is the same bits either way.
RATRACE_HD double score_denominator(int n_edges, LengthNormKind kind, double alpha) {
  if (n_edges == 0) return 1.0;
  switch (kind) {
    case LengthNormKind::none: return 1.0;
    case LengthNormKind::avg_logprob: return static_cast<double>(n_edges);
    case LengthNormKind::sqrt: return sqrt(static_cast<double>(n_edges));
    case LengthNormKind::pow: return pow(static_cast<double>(n_edges), alpha);
  }
  return 1.0;
}

// The normalised score of a beam with `n_edges` edges and raw score `raw` (SPEC §1.2). Dividing
// by 1 is exact, so `none` and n = 0 give the raw score itself.
RATRACE_HD double normalise_score(double raw, int n_edges, LengthNormKind kind, double alpha) {
  return raw / score_denominator(n_edges, kind, alpha);
}

// Whether key j of a row may be a candidate (SPEC §1.1), the causal and mask tests aside.
RATRACE_HD bool passes_threshold(float attn, double min_attn) {
  return attn > 0.0f && static_cast<double>(attn) >= min_attn;
}

// The same test with the threshold as a float: the smallest float >= min_attn. For every float a,
// double(a) >= min_attn exactly when a >= float_threshold(min_attn) (a float >= min_attn is >= the
// smallest one, and conversely), so the GPU's top-K pass compares floats and does not widen every
// element to double (a conversion instruction, slower than float arithmetic there). Computed once
// on the host.
inline float float_threshold(double min_attn) {
  const float rounded = static_cast<float>(min_attn);  // to nearest: at most one float below
  return static_cast<double>(rounded) >= min_attn ? rounded : std::nextafter(rounded, HUGE_VALF);
}
RATRACE_HD bool passes_float_threshold(float attn, float threshold) { return attn > 0.0f && attn >= threshold; }

// Whether an expansion into key position j ends its path (SPEC §1.3): j == 0, or a BOS position.
// is_bos is null when no position counts (no BOS id, or stop_at_bos off).
RATRACE_HD bool ends_path(std::int32_t j, const std::uint8_t* is_bos) {
  return j == 0 || (is_bos != nullptr && is_bos[j] != 0);
}

// A 64-bit key whose unsigned order is the candidate order of SPEC §1.1: larger weight first,
// then smaller index. Only valid for positive finite weights (whose bit patterns order like the
// values); 0 means "no candidate".
RATRACE_HD std::uint64_t candidate_key(float attn, std::int32_t j) {
  const std::uint32_t bits = float_to_bits(attn);
  return (static_cast<std::uint64_t>(bits) << 32) | static_cast<std::uint32_t>(~static_cast<std::uint32_t>(j));
}
RATRACE_HD float candidate_key_attn(std::uint64_t key) {
  return bits_to_float(static_cast<std::uint32_t>(key >> 32));
}
RATRACE_HD std::int32_t candidate_key_pos(std::uint64_t key) {
  return static_cast<std::int32_t>(~static_cast<std::uint32_t>(key));
}

// The least weight that can still enter a row's top-K, for a pass that tests one float per value
// and builds keys only where some lane reaches it: with threshold_key the K-th best key so far (0
// while fewer than K), a value v with !(v >= entry_floor) fails passes_float_threshold or has a
// key below threshold_key, whatever its column. The smallest positive float stands for "> 0".
RATRACE_HD float entry_floor(float attn_threshold, std::uint64_t threshold_key) {
  constexpr float kSmallestPositive = 1.40129846e-45f;
  const float least = attn_threshold > kSmallestPositive ? attn_threshold : kSmallestPositive;
  const float kth = candidate_key_attn(threshold_key);
  return kth > least ? kth : least;
}

// Bad input per SPEC §4: NaN, Inf or negative.
RATRACE_HD bool is_bad_weight(float attn) { return !(attn >= 0.0f) || attn > 3.402823466e38f; }

// The same check over many values, from what the GPU's aggregate pass computes anyway: a NaN or an
// infinity makes their double sum non-finite, and nothing else can (finite floats cannot overflow a
// double sum of as many as any row holds), while every other bad value is negative. So
//   any_of(values, is_bad_weight) == (fminf(0, values...) < 0 || !finite_sum(sum of values))
// in any order of summation (fminf skips NaN): one fminf per value beside sums the pass makes
// anyway, where is_bad_weight takes several instructions.
RATRACE_HD bool finite_sum(double sum) { return fabs(sum) <= 1.7976931348623157e308; }

}  // namespace ratrace::detail
