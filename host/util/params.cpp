#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"

namespace ratrace {

LengthNorm LengthNorm::parse(std::string_view text) {
  if (text == "none") return {LengthNormKind::none, 1.0};
  if (text == "avg_logprob") return {LengthNormKind::avg_logprob, 1.0};
  if (text == "sqrt") return {LengthNormKind::sqrt, 0.5};
  if (text.starts_with("pow:")) {
    const std::string number(text.substr(4));
    double alpha = 0.0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), alpha);
    if (ec == std::errc() && end == number.data() + number.size() && !number.empty() && std::isfinite(alpha))
      return {LengthNormKind::pow, alpha};
  }
  throw UsageError(fmt::format(
      "bad length_norm '{}': expected none, avg_logprob, sqrt or pow:ALPHA (e.g. pow:0.7)", text));
}

std::string LengthNorm::to_string() const {
  switch (kind) {
    case LengthNormKind::none: return "none";
    case LengthNormKind::avg_logprob: return "avg_logprob";
    case LengthNormKind::sqrt: return "sqrt";
    case LengthNormKind::pow: return fmt::format("pow:{}", alpha);
  }
  return "?";
}

void SearchParams::validate() const {
  if (top_beam < 1 || top_beam > kMaxTopBeam)
    throw UsageError(fmt::format("top_beam {} is outside 1..{}", top_beam, kMaxTopBeam));
  if (top_k < 1 || top_k > kMaxTopK) throw UsageError(fmt::format("top_k {} is outside 1..{}", top_k, kMaxTopK));
  if (!(min_attn >= 0.0) || !std::isfinite(min_attn))
    throw UsageError(fmt::format("min_attn {} must be a finite number >= 0", min_attn));
}

}  // namespace ratrace
