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

// The normalised score of a beam with `n_edges` edges and raw score `raw` (SPEC §1.2).
RATRACE_HD double normalise_score(double raw, int n_edges, LengthNormKind kind, double alpha) {
  if (n_edges == 0) return raw;
  switch (kind) {
    case LengthNormKind::none: return raw;
    case LengthNormKind::avg_logprob: return raw / static_cast<double>(n_edges);
    case LengthNormKind::sqrt: return raw / sqrt(static_cast<double>(n_edges));
    case LengthNormKind::pow: return raw / pow(static_cast<double>(n_edges), alpha);
  }
  return raw;
}

// Whether key j of a row may be a candidate (SPEC §1.1), the causal and mask tests aside.
RATRACE_HD bool passes_threshold(float attn, double min_attn) {
  return attn > 0.0f && static_cast<double>(attn) >= min_attn;
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

// Bad input per SPEC §4: NaN, Inf or negative.
RATRACE_HD bool is_bad_weight(float attn) { return !(attn >= 0.0f) || attn > 3.402823466e38f; }

}  // namespace ratrace::detail
