#pragma once
// SearchParams for the search tests (reference, host-run device search, GPU), defaults as the CLI's.
#include "ratrace/params.hpp"

namespace ratrace::testing_support {

inline SearchParams make_params(int top_beam, int top_k, const char* norm = "avg_logprob", double min_attn = 0.0,
                                bool stop_at_bos = true) {
  SearchParams p;
  p.top_beam = top_beam;
  p.top_k = top_k;
  p.length_norm = LengthNorm::parse(norm);
  p.min_attn = min_attn;
  p.stop_at_bos = stop_at_bos;
  return p;
}

}  // namespace ratrace::testing_support
