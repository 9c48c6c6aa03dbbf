#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ratrace {

// Head index used for aggregate jobs (SPEC §5 /jobs/head).
inline constexpr int kHeadMean = -1;
inline constexpr int kHeadMax = -2;

inline constexpr int kMaxTopBeam = 32;
inline constexpr int kMaxTopK = 32;

enum class LengthNormKind : int { none = 0, avg_logprob = 1, sqrt = 2, pow = 3 };

struct LengthNorm {
  LengthNormKind kind = LengthNormKind::avg_logprob;
  double alpha = 1.0;  // only for pow

  // Parses "none", "avg_logprob", "sqrt" or "pow:ALPHA"; throws UsageError naming the value.
  static LengthNorm parse(std::string_view text);
  // The canonical spelling, as recorded in the results' params ("pow:0.7").
  std::string to_string() const;
};

// Parameters of one search (SPEC §1). Validated by validate(), which throws UsageError.
struct SearchParams {
  int top_beam = 5;
  int top_k = 5;
  double min_attn = 0.0;
  LengthNorm length_norm{};
  bool stop_at_bos = true;

  void validate() const;
};

}  // namespace ratrace
