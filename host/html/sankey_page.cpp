#include "html/sankey_page.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "html/assets.hpp"
#include "html/html_util.hpp"
#include "html/results_view.hpp"
#include "util/head_label.hpp"

namespace ratrace::html {

namespace {

using nlohmann::json;

json params_of(const ResultsFile& file) {
  json params = json::parse(file.params_json, nullptr, false);
  return params.is_discarded() ? json(file.params_json) : params;
}

std::string quoted_token(const ResultsFile& file, std::int32_t seq, std::int32_t pos) {
  const std::optional<std::string> token = token_at(file, seq, pos);
  return token ? " \u201c" + *token + "\u201d" : "";
}

// Header facts from the params: "top_beam 5 · top_k 5 · min_attn 0 · avg_logprob · stops at BOS".
std::string params_summary(const json& params) {
  if (!params.is_object()) return "";
  std::string out;
  auto add = [&](const std::string& text) { out += (out.empty() ? "" : " \u00b7 ") + text; };
  for (const char* key : {"top_beam", "top_k", "min_attn"})
    if (params.contains(key)) add(fmt::format("{} {}", key, params[key].dump()));
  if (params.contains("length_norm") && params["length_norm"].is_string())
    add(params["length_norm"].get<std::string>());
  if (params.contains("stop_at_bos") && params["stop_at_bos"].is_boolean())
    add(params["stop_at_bos"].get<bool>() ? "stops at BOS" : "does not stop at BOS");
  return out;
}

}  // namespace

json sankey_data(const ResultsFile& file, std::size_t job, const std::string& results_path) {
  const TraceResults& r = file.results;
  const JobKey& key = r.jobs[job];
  const std::vector<double> weights = r.job_path_weights(job);

  json meta;
  meta["results"] = results_path;
  meta["input"] = file.input;
  meta["device"] = file.device;
  meta["sequence"] = file.sequence_names.at(static_cast<std::size_t>(key.seq_index));
  meta["seq_index"] = key.seq_index;
  meta["seq_len"] = file.sequence_length.at(static_cast<std::size_t>(key.seq_index));
  meta["layer"] = key.layer;
  meta["head"] = key.head >= 0 ? json(key.head) : json(head_label(key.head));
  meta["target"] = key.target;
  meta["params"] = params_of(file);

  std::set<std::int32_t> positions;
  json beams = json::array();
  for (std::int64_t p = r.path_begin[job]; p < r.path_begin[job + 1]; ++p) {
    const std::size_t rank = static_cast<std::size_t>(p - r.path_begin[job]);
    json pos = json::array(), attn = json::array();
    for (std::int64_t n = r.node_begin[p]; n < r.node_begin[p + 1]; ++n) {
      positions.insert(r.node_position[n]);
      pos.push_back(r.node_position[n]);
      const float a = r.node_edge_attn[n];
      attn.push_back(std::isfinite(a) ? json(static_cast<double>(a)) : json(nullptr));
    }
    beams.push_back({{"rank", rank},
                     {"score_raw", r.score_raw[p]},
                     {"score_norm", r.score_norm[p]},
                     {"weight", weights[rank]},
                     {"positions", pos},
                     {"attn", attn}});
  }
  json nodes = json::array();
  for (std::int32_t p : positions) {
    const std::optional<std::string> token = token_at(file, key.seq_index, p);
    nodes.push_back({{"pos", p}, {"token", token ? json(*token) : json(nullptr)}});
  }
  return {{"meta", meta}, {"nodes", nodes}, {"beams", beams}};
}

std::string sankey_page(const ResultsFile& file, std::size_t job, const std::string& results_path) {
  const JobKey& key = file.results.jobs[job];
  const json data = sankey_data(file, job, results_path);
  const std::string& seq_name = file.sequence_names.at(static_cast<std::size_t>(key.seq_index));
  const std::size_t num_paths = data["beams"].size();
  const std::string title = fmt::format("ratrace \u00b7 {} \u00b7 layer {} \u00b7 head {} \u00b7 target {}", seq_name,
                                        key.layer, head_label(key.head), key.target);

  std::string body;
  body += "<header class=\"bar\"><div class=\"title\">";
  body += fmt::format(
      "<h1><span class=\"brand\">ratrace</span> \u00b7 {} \u00b7 layer {} \u00b7 head {} \u00b7 target {}{}</h1>",
      escape(seq_name), key.layer, escape(head_label(key.head)), key.target,
      escape(quoted_token(file, key.seq_index, key.target)));
  const std::size_t num_tokens = data["nodes"].size();
  body += fmt::format("<div class=\"meta\">{} {} \u00b7 {} {} in the paths \u00b7 {}</div></div>", num_paths,
                      num_paths == 1 ? "path" : "paths", num_tokens, num_tokens == 1 ? "token" : "tokens",
                      escape(params_summary(data["meta"]["params"])));
  body +=
      "<div class=\"controls\"><button id=\"fit\" type=\"button\">Fit all</button>"
      "<button id=\"target-end\" type=\"button\">Start view</button>"
      "<span>wheel: zoom \u00b7 drag: pan \u00b7 click a beam: highlight</span></div></header>\n";
  body += "<main class=\"sankey\"><div class=\"canvas\"><svg id=\"sankey\" xmlns=\"http://www.w3.org/2000/svg\" "
          "role=\"img\" aria-label=\"Sankey diagram of the traced paths\"></svg></div>\n";
  body += "<aside class=\"side\"><h2>Beams</h2><ol id=\"beam-list\"></ol>";
  body +=
      "<p class=\"note\">Tokens are placed in sequence order; the target is pink. A link joins two consecutive tokens "
      "of a beam, from the earlier to the later one; its width is the beam's path weight (softmax of the normalised "
      "scores) \u00d7 the attention of that edge. Links that skip tokens arc above or below.</p>";
  body += "<h2>Run</h2><table class=\"kv\">";
  auto row = [&](const std::string& k, const std::string& v) {
    body += fmt::format("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
  };
  row("results", results_path);
  row("input", file.input);
  row("device", file.device);
  row("sequence", fmt::format("{} (index {}, {} tokens)", seq_name, key.seq_index,
                              file.sequence_length.at(static_cast<std::size_t>(key.seq_index))));
  const json& params = data["meta"]["params"];
  if (params.is_object())
    for (const auto& [k, v] : params.items()) row(k, v.is_string() ? v.get<std::string>() : v.dump());
  body += "</table></aside></main>\n";
  body += "<div id=\"tooltip\" class=\"tooltip\" hidden></div>\n";
  body += "<script type=\"application/json\" id=\"ratrace-data\">" + json_for_script(data) + "</script>\n";
  body += std::string("<script>") + assets::kSankeyJs + "</script>\n";
  return page(title, std::string(assets::kBaseCss) + assets::kSankeyCss, body);
}

}  // namespace ratrace::html
