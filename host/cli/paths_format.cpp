#include "cli/paths_format.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/head_label.hpp"

namespace ratrace::cli {
namespace {

// Keys keep the order they are written in (seq, layer, head, target, paths), for people reading it.
using json = nlohmann::ordered_json;

// One result path, ready to show: earliest token first.
struct ShownPath {
  int rank = 0;
  std::vector<std::int32_t> positions;                  // earliest first, the target last
  std::optional<std::vector<std::string>> tokens;       // the tokens at those positions, when stored
  std::vector<float> arrow_attn;                        // arrow_attn[i]: attention from positions[i+1] to positions[i]
  double score_raw = 0.0;
  double score_norm = 0.0;
  double weight = 0.0;
};

// Invalid UTF-8 in tokens (byte-level BPE pieces) must not abort the output: replace it.
std::string dump_json(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::vector<ShownPath> shown_paths(const ResultsFile& file, std::size_t job) {
  const TraceResults& r = file.results;
  const std::int32_t seq = r.jobs[job].seq_index;
  const bool has_tokens = file.tokens && file.token_begin[seq + 1] > file.token_begin[seq];
  std::vector<PathResult> paths = r.job_paths(job);
  const std::vector<double> weights = r.job_path_weights(job);

  std::vector<ShownPath> out;
  for (std::size_t rank = 0; rank < paths.size(); ++rank) {
    const PathResult& p = paths[rank];
    ShownPath s;
    s.rank = static_cast<int>(rank);
    s.positions.assign(p.positions.rbegin(), p.positions.rend());
    // edge_attn[k] is the edge into the k-th node, target first; edge_attn[0] (the target's) is NaN.
    s.arrow_attn.assign(p.edge_attn.rbegin(), p.edge_attn.rend() - 1);
    if (has_tokens) {
      s.tokens.emplace();
      for (std::int32_t pos : s.positions) s.tokens->push_back((*file.tokens)[file.token_begin[seq] + pos]);
    }
    s.score_raw = p.score_raw;
    s.score_norm = p.score_norm;
    s.weight = weights[rank];
    out.push_back(std::move(s));
  }
  return out;
}

std::size_t shown_count(std::size_t n_paths, int top) {
  return top > 0 ? std::min<std::size_t>(n_paths, static_cast<std::size_t>(top)) : n_paths;
}

// Three decimals, without a "-0.000" for values that round to zero.
std::string three_decimals(double value) {
  std::string s = fmt::format("{:.3f}", value);
  return s == "-0.000" ? "0.000" : s;
}

// --- text -----------------------------------------------------------------------------------------

std::string node_label(const ShownPath& path, std::size_t i) {
  if (!path.tokens) return std::to_string(path.positions[i]);
  return fmt::format("{}@{}", readable_token((*path.tokens)[i]), path.positions[i]);
}

void print_text(std::FILE* out, const ResultsFile& file, const std::vector<std::size_t>& jobs, int top) {
  bool first = true;
  for (std::size_t job : jobs) {
    const JobKey& key = file.results.jobs[job];
    fmt::print(out, "{}{} layer {} head {} target {}:\n", first ? "" : "\n", file.sequence_names[key.seq_index],
               key.layer, head_label(key.head), key.target);
    first = false;
    const std::vector<ShownPath> paths = shown_paths(file, job);
    for (std::size_t r = 0; r < shown_count(paths.size(), top); ++r) {
      const ShownPath& p = paths[r];
      std::string chain;
      for (std::size_t i = 0; i < p.positions.size(); ++i) {
        if (i > 0) chain += " -> ";
        chain += node_label(p, i);
      }
      fmt::print(out, "  #{}  {}   (score {}, weight {})\n", p.rank, chain, three_decimals(p.score_norm),
                 three_decimals(p.weight));
    }
  }
}

// --- csv ------------------------------------------------------------------------------------------

// RFC 4180: quote fields holding a comma, quote, line break or edge space; double inner quotes.
std::string csv_field(const std::string& value) {
  const bool needs_quotes = value.find_first_of(",\"\r\n") != std::string::npos ||
                            (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!needs_quotes) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void print_csv(std::FILE* out, const ResultsFile& file, const std::vector<std::size_t>& jobs, int top) {
  fmt::print(out, "seq,layer,head,target,rank,score_raw,score_norm,weight,positions,tokens\n");
  for (std::size_t job : jobs) {
    const JobKey& key = file.results.jobs[job];
    const std::vector<ShownPath> paths = shown_paths(file, job);
    for (std::size_t r = 0; r < shown_count(paths.size(), top); ++r) {
      const ShownPath& p = paths[r];
      const std::string tokens = p.tokens ? dump_json(*p.tokens) : "";
      fmt::print(out, "{},{},{},{},{},{},{},{},{},{}\n", csv_field(file.sequence_names[key.seq_index]), key.layer,
                 head_label(key.head), key.target, p.rank, p.score_raw, p.score_norm, p.weight,
                 fmt::join(p.positions, " "), csv_field(tokens));
    }
  }
}

// --- json -----------------------------------------------------------------------------------------

// A float32 as the shortest decimal that reads back as the same float32 (0.4, not 0.4000000059604645).
double shortest_decimal(float value) {
  const std::string text = fmt::format("{}", value);
  double widened = value;
  std::from_chars(text.data(), text.data() + text.size(), widened);
  return widened;
}

json job_json(const ResultsFile& file, std::size_t job, int top) {
  const JobKey& key = file.results.jobs[job];
  json j;
  j["seq"] = file.sequence_names[key.seq_index];
  j["seq_index"] = key.seq_index;
  j["layer"] = key.layer;
  j["head"] = key.head >= 0 ? json(key.head) : json(head_label(key.head));
  j["target"] = key.target;
  j["paths"] = json::array();
  const std::vector<ShownPath> paths = shown_paths(file, job);
  for (std::size_t r = 0; r < shown_count(paths.size(), top); ++r) {
    const ShownPath& p = paths[r];
    json arrows = json::array();
    for (float a : p.arrow_attn) arrows.push_back(shortest_decimal(a));
    j["paths"].push_back({{"rank", p.rank},
                          {"positions", p.positions},
                          {"tokens", p.tokens ? json(*p.tokens) : json(nullptr)},
                          {"edge_attn", arrows},
                          {"score_raw", p.score_raw},
                          {"score_norm", p.score_norm},
                          {"weight", p.weight}});
  }
  return j;
}

// One job per line inside the array: valid JSON that stays greppable and streams.
void print_json(std::FILE* out, const ResultsFile& file, const std::vector<std::size_t>& jobs, int top) {
  fmt::print(out, "[");
  for (std::size_t i = 0; i < jobs.size(); ++i)
    fmt::print(out, "{}\n{}", i == 0 ? "" : ",", dump_json(job_json(file, jobs[i], top)));
  fmt::print(out, "\n]\n");
}

}  // namespace

std::string readable_token(const std::string& token) {
  bool plain = !token.empty();
  for (unsigned char c : token)
    if (c <= ' ' || c == 0x7f || c == '"' || c == '\\') plain = false;
  return plain ? token : dump_json(json(token));
}

void print_paths(std::FILE* out, const ResultsFile& file, const std::vector<std::size_t>& jobs, PathsFormat format,
                 int top) {
  switch (format) {
    case PathsFormat::text: print_text(out, file, jobs, top); break;
    case PathsFormat::csv: print_csv(out, file, jobs, top); break;
    case PathsFormat::json: print_json(out, file, jobs, top); break;
  }
}

}  // namespace ratrace::cli
