// `ratrace inspect INPUT.h5`: what a corpus holds (shapes, dtypes, storage, tokens) and what is
// wrong with it. Structural problems stop with the reader's InputError (exit 2); with
// --check-values every attention value is read and NaN / Inf / negative values (bad input, exit 2)
// and rows not summing to ~1 (a warning) are counted.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "io/corpus_scan.hpp"
#include "ratrace/corpus_reader.hpp"
#include "ratrace/errors.hpp"

namespace ratrace::cli {
namespace {

constexpr int kFirstTokensShown = 6;
constexpr std::size_t kTokenWidth = 12;  // longer tokens are cut in the table

struct InspectArgs {
  std::string input;
  bool check_values = false;
  std::string format = "text";
  int limit = 0;
};

struct Problem {
  std::string sequence;
  std::string kind;  // nan, inf, negative, row_sum, mask
  bool error = true; // false: a warning (SPEC §4: suspicious row sums)
  std::int64_t count = 1;
  std::string detail;
};

// What inspect learns about one sequence beyond SequenceInfo.
struct SequenceReport {
  const SequenceInfo* info = nullptr;
  std::vector<std::string> first_tokens;
  std::vector<std::int64_t> first_ids;
  std::int64_t masked = -1;  // -1: no mask
};

std::string describe_location(const corpus::ValueLocation& at) {
  return fmt::format("layer {} head {} row {} col {} = {}", at.layer, at.head, at.row, at.col, at.value);
}

void add_value_problems(const std::string& name, const corpus::SequenceValueScan& scan, std::vector<Problem>& out) {
  const std::pair<const char*, const corpus::ValueTally*> bad[] = {
      {"nan", &scan.nan}, {"inf", &scan.inf}, {"negative", &scan.negative}};
  const char* words[] = {"NaN", "infinite", "negative"};
  for (int k = 0; k < 3; ++k) {
    const corpus::ValueTally& t = *bad[k].second;
    if (t.count == 0) continue;
    out.push_back({name, bad[k].first, true, t.count,
                   fmt::format("{} {} value{} at j <= i (first: {})", t.count, words[k], t.count == 1 ? "" : "s",
                               describe_location(*t.first))});
  }
  if (scan.rows_off.count > 0) {
    const corpus::ValueLocation& at = *scan.rows_off.first;
    out.push_back({name, "row_sum", false, scan.rows_off.count,
                   fmt::format("{} of {} rows sum to more than 0.01 away from 1 (first: layer {} head {} row {}, sum {})",
                               scan.rows_off.count, scan.rows_checked, at.layer, at.head, at.row, at.value)});
  }
}

SequenceReport report_sequence(const CorpusReader& reader, int s, std::vector<Problem>& problems) {
  SequenceReport r;
  r.info = &reader.sequences()[static_cast<std::size_t>(s)];
  if (r.info->has_tokens) {
    std::vector<std::string> tokens = reader.read_tokens(s);
    tokens.resize(std::min<std::size_t>(tokens.size(), kFirstTokensShown));
    r.first_tokens = std::move(tokens);
  }
  if (r.info->has_token_ids) {
    std::vector<std::int64_t> ids = reader.read_token_ids(s);
    ids.resize(std::min<std::size_t>(ids.size(), kFirstTokensShown));
    r.first_ids = std::move(ids);
  }
  if (r.info->has_mask) {
    try {
      const std::vector<std::uint8_t> mask = reader.read_mask(s);
      r.masked = std::count(mask.begin(), mask.end(), std::uint8_t{0});
    } catch (const InputError& e) {
      problems.push_back({r.info->name, "mask", true, 1, e.what()});
    }
  }
  return r;
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string chunk_text(const SequenceInfo& info) {
  return info.chunk_dims.empty() ? "contiguous" : fmt::format("[{}]", fmt::join(info.chunk_dims, ", "));
}

std::string first_tokens_text(const SequenceReport& r) {
  std::vector<std::string> shown;
  if (!r.first_tokens.empty()) {
    for (std::string t : r.first_tokens) {
      if (t.size() > kTokenWidth) t = t.substr(0, kTokenWidth) + "...";
      shown.push_back(fmt::format("{:?}", t));
    }
  } else {
    for (std::int64_t id : r.first_ids) shown.push_back(fmt::format("{}", id));
  }
  if (shown.empty()) return "-";
  const std::size_t length = static_cast<std::size_t>(r.info->seq_len);
  return fmt::format("{}{}", fmt::join(shown, " "), length > shown.size() ? " ..." : "");
}

// "2" when every sequence agrees, else "2..4".
template <class F>
std::string range_text(const std::vector<SequenceInfo>& seqs, F get) {
  auto [lo, hi] = std::minmax_element(seqs.begin(), seqs.end(), [&](const auto& a, const auto& b) { return get(a) < get(b); });
  return get(*lo) == get(*hi) ? fmt::format("{}", get(*lo)) : fmt::format("{}..{}", get(*lo), get(*hi));
}

void print_text(const CorpusReader& reader, const std::vector<SequenceReport>& reports,
                const std::vector<Problem>& problems, const InspectArgs& args) {
  const auto& seqs = reader.sequences();
  std::set<std::string> dtypes, storage, reads;
  for (int k = 0; k < static_cast<int>(seqs.size()); ++k) {
    const SequenceInfo& s = seqs[k];
    reads.insert(reader.read_path(k));
    dtypes.emplace(dtype_name(s.dtype));
    storage.insert(s.chunk_dims.empty() ? "contiguous"
                                        : (s.deflate_level >= 0 ? fmt::format("chunked, deflate {}", s.deflate_level)
                                                                : std::string("chunked")));
  }
  fmt::print("file          {}\n", reader.path());
  fmt::print("model         {}\n", reader.model().value_or("(not recorded)"));
  fmt::print("bos_token_id  {}\n",
             reader.bos_token_id() ? fmt::format("{}", *reader.bos_token_id()) : std::string("(none)"));
  fmt::print("sequences     {}\n", seqs.size());
  fmt::print("layers        {}\n", range_text(seqs, [](const SequenceInfo& s) { return s.num_layers; }));
  fmt::print("heads         {}\n", range_text(seqs, [](const SequenceInfo& s) { return s.num_heads; }));
  fmt::print("lengths       {}\n", range_text(seqs, [](const SequenceInfo& s) { return s.seq_len; }));
  fmt::print("dtype         {}\n", fmt::join(dtypes, ", "));
  fmt::print("storage       {}\n", fmt::join(storage, "; "));
  fmt::print("read by       {}\n\n", fmt::join(reads, "; "));

  const std::vector<std::string> header = {"sequence", "layers", "heads", "length", "dtype", "chunks",
                                           "deflate", "token_ids", "tokens", "mask", "first tokens"};
  std::vector<std::vector<std::string>> rows;
  const std::size_t shown = args.limit > 0 ? std::min<std::size_t>(reports.size(), args.limit) : reports.size();
  for (std::size_t k = 0; k < shown; ++k) {
    const SequenceReport& r = reports[k];
    const SequenceInfo& s = *r.info;
    rows.push_back({s.name, fmt::format("{}", s.num_layers), fmt::format("{}", s.num_heads),
                    fmt::format("{}", s.seq_len), std::string(dtype_name(s.dtype)), chunk_text(s),
                    s.deflate_level >= 0 ? fmt::format("{}", s.deflate_level) : "-", yes_no(s.has_token_ids),
                    yes_no(s.has_tokens), r.masked < 0 ? "no" : fmt::format("{} masked", r.masked),
                    first_tokens_text(r)});
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const bool numeric = c >= 1 && c <= 3;
      const bool last = c + 1 == row.size();
      line += numeric ? fmt::format("{:>{}}", row[c], width[c]) : last ? row[c] : fmt::format("{:<{}}", row[c], width[c]);
      if (!last) line += "  ";
    }
    fmt::print("{}\n", line);
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
  if (shown < reports.size()) fmt::print("... {} more sequences (--limit 0 shows all)\n", reports.size() - shown);

  fmt::print("\n");
  if (problems.empty()) {
    fmt::print("problems found: none{}\n", args.check_values ? "" : " (values not read; --check-values reads them)");
    return;
  }
  fmt::print("problems found: {}{}\n", problems.size(), args.check_values ? "" : " (values not read; --check-values reads them)");
  for (const Problem& p : problems) fmt::print("  {} {}: {}\n", p.error ? "error  " : "warning", p.sequence, p.detail);
}

void print_json(const CorpusReader& reader, const std::vector<SequenceReport>& reports,
                const std::vector<Problem>& problems, const InspectArgs& args) {
  nlohmann::json out;
  out["file"] = reader.path();
  out["model"] = reader.model() ? nlohmann::json(*reader.model()) : nlohmann::json(nullptr);
  out["bos_token_id"] = reader.bos_token_id() ? nlohmann::json(*reader.bos_token_id()) : nlohmann::json(nullptr);
  out["values_checked"] = args.check_values;
  out["sequences"] = nlohmann::json::array();
  for (std::size_t k = 0; k < reports.size(); ++k) {
    const SequenceReport& r = reports[k];
    const SequenceInfo& s = *r.info;
    nlohmann::json j;
    j["name"] = s.name;
    j["layers"] = s.num_layers;
    j["heads"] = s.num_heads;
    j["length"] = s.seq_len;
    j["dtype"] = dtype_name(s.dtype);
    j["chunk_dims"] = s.chunk_dims.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.chunk_dims);
    j["deflate"] = s.deflate_level >= 0 ? nlohmann::json(s.deflate_level) : nlohmann::json(nullptr);
    j["read_path"] = reader.read_path(static_cast<int>(k));
    j["has_token_ids"] = s.has_token_ids;
    j["has_tokens"] = s.has_tokens;
    j["has_mask"] = s.has_mask;
    j["masked_positions"] = r.masked >= 0 ? nlohmann::json(r.masked) : nlohmann::json(nullptr);
    j["first_tokens"] = r.first_tokens;
    j["first_token_ids"] = r.first_ids;
    out["sequences"].push_back(std::move(j));
  }
  out["problems"] = nlohmann::json::array();
  for (const Problem& p : problems)
    out["problems"].push_back({{"sequence", p.sequence}, {"kind", p.kind}, {"severity", p.error ? "error" : "warning"},
                               {"count", p.count}, {"detail", p.detail}});
  // Tokens may hold bytes that are not UTF-8: replace them rather than fail.
  fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

void run_inspect(const InspectArgs& args) {
  const CorpusReader reader(args.input);  // structural problems throw InputError here
  std::vector<Problem> problems;
  std::vector<SequenceReport> reports;
  const int n = static_cast<int>(reader.sequences().size());
  for (int s = 0; s < n; ++s) reports.push_back(report_sequence(reader, s, problems));
  if (args.check_values)
    for (int s = 0; s < n; ++s)
      add_value_problems(reader.sequences()[s].name, corpus::scan_sequence_values(reader, s), problems);

  if (args.format == "json") print_json(reader, reports, problems, args);
  else print_text(reader, reports, problems, args);

  const auto errors = std::count_if(problems.begin(), problems.end(), [](const Problem& p) { return p.error; });
  if (errors > 0) {
    const Problem& first = *std::find_if(problems.begin(), problems.end(), [](const Problem& p) { return p.error; });
    throw InputError(fmt::format("{}: {} problem{} found, first in {}: {}", args.input, errors, errors == 1 ? "" : "s",
                                 first.sequence, first.detail));
  }
}

}  // namespace

void register_inspect(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  auto* sub = root.add_subcommand("inspect", "Show what a corpus holds and what is wrong with it");
  sub->add_option("input", args->input, "Input corpus (.h5)")->required();
  sub->add_flag("--check-values", args->check_values,
                "Read every attention value: count NaN, Inf, negative values and rows not summing to ~1");
  sub->add_option("--format", args->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  sub->add_option("--limit", args->limit, "Show at most this many sequences in the table (0: all)")
      ->capture_default_str();
  sub->callback([args, &exit_code] {
    run_inspect(*args);
    exit_code = kExitOk;
  });
}

}  // namespace ratrace::cli
