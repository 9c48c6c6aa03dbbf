// Stage (b): the beam search of SPEC §1.3 over a candidate table.
//
// Two storage choices keep long searches cheap without changing any result:
// - Beams are entries in an arena (parent index, position, edge weight, scores), never copied
//   paths. A path is rebuilt by walking parent links only for results and snapshots.
// - The terminal list is kept as a running top-B in the SPEC's order (normalised score
//   descending, ties in append order: a newcomer equal to a kept entry goes after it). Taking the
//   best B of a set under a total order can be done incrementally, so this returns exactly the
//   first B of SPEC §1.3's final STABLE_SORT(terminal) while holding only B entries. Beams that
//   end in a step are only stored in the arena if they are still in that top-B at the end of the
//   step, so the arena grows by at most 2B entries per step.
#include "ratrace/beam_search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "ratrace/detail/scoring.hpp"

namespace ratrace {
namespace {

struct Beam {
  std::int32_t parent = -1;  // arena index of the beam this one extends; -1 for the target alone
  std::int32_t pos = 0;      // last position of the path
  float attn = 0.0f;         // weight of the last edge (unused for the target alone)
  std::int32_t n_edges = 0;
  double raw = 0.0;   // sum of edge_logprob in path order
  double norm = 0.0;  // normalise_score(raw, n_edges)
  bool ends = false;  // only meaningful for a fresh extension
};

// One entry of the running terminal top-B: either a beam already in the arena or an extension
// made in the current step (stored into the arena when the step is over, if still kept).
struct Ranked {
  double norm;
  std::int32_t arena_index;  // -1 when pending
  std::int32_t fresh_index;  // -1 when in the arena
};

class Search {
 public:
  Search(const candidate_table_ref& table, const std::uint8_t* is_bos, const SearchParams& params)
      : table_(table), is_bos_(is_bos), params_(params) {}

  std::vector<PathResult> run(std::int32_t target, std::vector<SearchStep>* steps) {
    arena_.push_back(Beam{-1, target, std::numeric_limits<float>::quiet_NaN(), 0, 0.0,
                          detail::normalise_score(0.0, 0, params_.length_norm.kind, params_.length_norm.alpha)});
    active_.push_back(0);
    while (!active_.empty()) {
      step();
      if (steps) steps->push_back(snapshot());
    }
    std::vector<PathResult> results;
    results.reserve(terminal_.size());
    for (const Ranked& r : terminal_) results.push_back(path_of(r.arena_index));
    return results;
  }

 private:
  void step() {
    fresh_.clear();
    for (const std::int32_t b : active_) {
      const Beam beam = arena_[b];
      const std::int32_t c = beam.pos;
      const std::int32_t n_cand = c == 0 ? 0 : table_.size(c);
      if (n_cand == 0) {  // c == 0, or no candidates: the beam is finished as it is
        add_terminal(Ranked{beam.norm, b, -1});
        continue;
      }
      for (std::int32_t r = 0; r < n_cand; ++r) {
        const Candidate& cand = table_.at(c, r);
        Beam nb;
        nb.parent = b;
        nb.pos = cand.pos;
        nb.attn = cand.attn;
        nb.n_edges = beam.n_edges + 1;
        nb.raw = beam.raw + detail::edge_logprob(cand.attn);
        nb.norm = detail::normalise_score(nb.raw, nb.n_edges, params_.length_norm.kind, params_.length_norm.alpha);
        nb.ends = detail::ends_path(cand.pos, params_.stop_at_bos ? is_bos_ : nullptr);
        fresh_.push_back(nb);
      }
    }

    // Newly ended beams join the terminal list after the loop, in order.
    for (std::size_t f = 0; f < fresh_.size(); ++f)
      if (fresh_[f].ends) add_terminal(Ranked{fresh_[f].norm, -1, static_cast<std::int32_t>(f)});
    for (Ranked& r : terminal_) {
      if (r.arena_index >= 0) continue;
      r.arena_index = store(fresh_[r.fresh_index]);
      r.fresh_index = -1;
    }

    // The next active beams: the first B of a stable sort of the beams that go on. Ordering by
    // (score descending, index ascending) is a strict total order that a stable sort by score
    // agrees with, so partial_sort picks the same first B.
    survivors_.clear();
    for (std::size_t f = 0; f < fresh_.size(); ++f)
      if (!fresh_[f].ends) survivors_.push_back(static_cast<std::int32_t>(f));
    const std::size_t keep = std::min<std::size_t>(survivors_.size(), static_cast<std::size_t>(params_.top_beam));
    std::partial_sort(survivors_.begin(), survivors_.begin() + static_cast<std::ptrdiff_t>(keep), survivors_.end(),
                      [this](std::int32_t x, std::int32_t y) {
                        if (fresh_[x].norm != fresh_[y].norm) return fresh_[x].norm > fresh_[y].norm;
                        return x < y;
                      });
    active_.clear();
    for (std::size_t s = 0; s < keep; ++s) active_.push_back(store(fresh_[survivors_[s]]));
  }

  // Inserts after every kept entry with a score >= this one's; drops what falls past B.
  void add_terminal(const Ranked& entry) {
    const auto at = std::upper_bound(terminal_.begin(), terminal_.end(), entry.norm,
                                     [](double norm, const Ranked& kept) { return norm > kept.norm; });
    if (at - terminal_.begin() >= params_.top_beam) return;
    terminal_.insert(at, entry);
    if (static_cast<int>(terminal_.size()) > params_.top_beam) terminal_.pop_back();
  }

  std::int32_t store(const Beam& beam) {
    arena_.push_back(beam);
    return static_cast<std::int32_t>(arena_.size() - 1);
  }

  // Walks parent links back to the target; returns positions target first.
  std::vector<std::int32_t> positions_of(std::int32_t index) const {
    std::vector<std::int32_t> positions(static_cast<std::size_t>(arena_[index].n_edges) + 1);
    for (std::size_t k = positions.size(); k-- > 0; index = arena_[index].parent) positions[k] = arena_[index].pos;
    return positions;
  }

  PathResult path_of(std::int32_t index) const {
    PathResult path;
    const std::size_t n_nodes = static_cast<std::size_t>(arena_[index].n_edges) + 1;
    path.positions.resize(n_nodes);
    path.edge_attn.resize(n_nodes);
    path.score_raw = arena_[index].raw;
    path.score_norm = arena_[index].norm;
    for (std::size_t k = n_nodes; k-- > 0; index = arena_[index].parent) {
      path.positions[k] = arena_[index].pos;
      path.edge_attn[k] = k == 0 ? std::numeric_limits<float>::quiet_NaN() : arena_[index].attn;
    }
    return path;
  }

  SearchStep snapshot() const {
    SearchStep s;
    for (const std::int32_t b : active_) s.active.push_back(positions_of(b));
    for (const Ranked& r : terminal_) s.terminal.push_back(positions_of(r.arena_index));
    return s;
  }

  const candidate_table_ref table_;
  const std::uint8_t* is_bos_;
  const SearchParams& params_;
  std::vector<Beam> arena_;
  std::vector<std::int32_t> active_;  // arena indices, in beam order
  std::vector<Ranked> terminal_;      // running top-B, result order
  std::vector<Beam> fresh_;           // extensions made in the current step, in SPEC order
  std::vector<std::int32_t> survivors_;
};

}  // namespace

std::vector<PathResult> beam_search(const candidate_table_ref& table, std::int32_t target,
                                    const std::uint8_t* is_bos, const SearchParams& params,
                                    std::vector<SearchStep>* steps) {
  if (target < 0 || target >= table.seq_len)
    throw std::invalid_argument(fmt::format("beam_search: target {} is outside [0, {})", target, table.seq_len));
  if (params.top_beam < 1)
    throw std::invalid_argument(fmt::format("beam_search: top_beam {} < 1", params.top_beam));
  return Search(table, is_bos, params).run(target, steps);
}

std::vector<double> path_weights(const std::vector<double>& score_norm) {
  std::vector<double> weights(score_norm.size());
  if (score_norm.empty()) return weights;
  const double max_score = *std::max_element(score_norm.begin(), score_norm.end());
  double total = 0.0;
  for (std::size_t k = 0; k < score_norm.size(); ++k) {
    weights[k] = std::exp(score_norm[k] - max_score);
    total += weights[k];
  }
  for (double& w : weights) w /= total;
  return weights;
}

}  // namespace ratrace
