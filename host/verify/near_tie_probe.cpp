#include "verify/near_tie_probe.hpp"

#include <algorithm>
#include <vector>

#include "ratrace/detail/scoring.hpp"
#include "verify/compare.hpp"

namespace ratrace {
namespace {

struct Node {
  std::int32_t parent;  // arena index, -1 for the target
  std::int32_t pos;
  float attn;
  std::int32_t edges;
  double raw;
  double norm;
};

class Probe {
 public:
  Probe(const candidate_table_ref& table, const std::uint8_t* is_bos, const SearchParams& params)
      : table_(table), is_bos_(is_bos), params_(params) {}

  bool run(std::int32_t target) {
    arena_.push_back(Node{-1, target, 0.0f, 0, 0.0, norm(0.0, 0)});
    std::vector<std::int32_t> active{0};
    std::vector<Node> fresh;
    std::vector<std::int32_t> survivors;
    const std::size_t B = static_cast<std::size_t>(params_.top_beam);
    while (!active.empty()) {
      fresh.clear();
      for (const std::int32_t b : active) {
        const Node beam = arena_[b];
        const std::int32_t n = beam.pos == 0 ? 0 : table_.size(beam.pos);
        if (n == 0) add_terminal(b);
        for (std::int32_t r = 0; r < n; ++r) {
          const Candidate& c = table_.at(beam.pos, r);
          const double raw = beam.raw + detail::edge_logprob(c.attn);
          fresh.push_back(Node{b, c.pos, c.attn, beam.edges + 1, raw, norm(raw, beam.edges + 1)});
        }
      }
      survivors.clear();
      for (std::size_t f = 0; f < fresh.size(); ++f) {
        if (ends(fresh[f].pos)) {
          arena_.push_back(fresh[f]);
          add_terminal(static_cast<std::int32_t>(arena_.size() - 1));
        } else {
          survivors.push_back(static_cast<std::int32_t>(f));
        }
      }
      std::stable_sort(survivors.begin(), survivors.end(),
                       [&](std::int32_t x, std::int32_t y) { return fresh[x].norm > fresh[y].norm; });
      for (std::size_t s = 0; s + 1 < survivors.size() && s < B; ++s)
        if (near(fresh[survivors[s]], fresh[survivors[s + 1]])) return true;
      active.clear();
      for (std::size_t s = 0; s < survivors.size() && s < B; ++s) {
        arena_.push_back(fresh[survivors[s]]);
        active.push_back(static_cast<std::int32_t>(arena_.size() - 1));
      }
    }
    for (std::size_t t = 0; t + 1 < terminal_.size(); ++t)
      if (near(arena_[terminal_[t]], arena_[terminal_[t + 1]])) return true;
    return false;
  }

 private:
  double norm(double raw, int edges) const {
    return detail::normalise_score(raw, edges, params_.length_norm.kind, params_.length_norm.alpha);
  }
  bool ends(std::int32_t j) const { return j == 0 || (params_.stop_at_bos && is_bos_ && is_bos_[j] != 0); }

  // The running first B + 1 of the stable sort of the terminal list.
  void add_terminal(std::int32_t index) {
    const double s = arena_[index].norm;
    auto at = terminal_.begin();
    while (at != terminal_.end() && arena_[*at].norm >= s) ++at;
    if (at - terminal_.begin() > params_.top_beam) return;
    terminal_.insert(at, index);
    if (terminal_.size() > static_cast<std::size_t>(params_.top_beam) + 1) terminal_.pop_back();
  }

  // Same edge weights in the same order: then every device computes the same scores.
  bool same_edges(const Node& a, const Node& b) const {
    if (a.edges != b.edges || a.attn != b.attn) return false;
    for (std::int32_t x = a.parent, y = b.parent; x >= 0 && y >= 0; x = arena_[x].parent, y = arena_[y].parent) {
      if (x == y) return true;
      if (arena_[x].edges > 0 && arena_[x].attn != arena_[y].attn) return false;
    }
    return true;
  }

  bool near(const Node& a, const Node& b) const { return scores_agree(a.norm, b.norm) && !same_edges(a, b); }

  const candidate_table_ref table_;
  const std::uint8_t* is_bos_;
  const SearchParams& params_;
  std::vector<Node> arena_;
  std::vector<std::int32_t> terminal_;
};

}  // namespace

bool search_has_near_tie(const candidate_table_ref& table, std::int32_t target, const std::uint8_t* is_bos,
                         const SearchParams& params) {
  return Probe(table, is_bos, params).run(target);
}

}  // namespace ratrace
