// `ratrace decay`, `ratrace render` and `ratrace report` on results files written here, plus the
// HTML building blocks they share. The pages' behaviour in a real browser is checked by
// tests/browser (ctest browser_html).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "html/html_util.hpp"
#include "html/report_page.hpp"
#include "html/sankey_page.hpp"
#include "html/svg_chart.hpp"
#include "ratrace/decay_stats.hpp"
#include "ratrace/params.hpp"
#include "ratrace/results.hpp"
#include "support/cli_runner.hpp"
#include "support/path_result.hpp"

namespace ratrace {
namespace {

using nlohmann::json;
using testing::read_text_file;
using testing::run_cli;
using testing::TempDir;

// A path whose avg_logprob score is `norm`.
PathResult make_path(std::vector<std::int32_t> positions, std::vector<float> edges, double norm) {
  return testing::path_result(std::move(positions), edges, norm * static_cast<double>(edges.size()), norm);
}

// Two sequences ("alpha" traced, "beta" traced), layers 0 and 1. Tokens include markup, so that
// escaping is exercised everywhere they are shown.
ResultsFile sample_file(bool with_stats) {
  ResultsFile f;
  f.params_json = R"({"top_beam": 3, "top_k": 2, "min_attn": 0.0, "length_norm": "avg_logprob", "stop_at_bos": true,
                      "bos_token_id": 1, "sequences": "all", "layers": "0,1", "heads": "0,mean", "targets": "-1"})";
  f.input = "corpus.h5";
  f.device = "cpu (1 thread)";
  f.sequence_names = {"alpha", "beta"};
  f.sequence_length = {8, 5};
  f.token_begin = {0, 8, 13};
  f.tokens = std::vector<std::string>{"<s>", "The", " quick", "</script><b>x", "fox", "jumps", "over", "dog",
                                      "<s>", "a", "b", "c", "d"};
  f.results.append({0, 0, kHeadMean, 7}, {make_path({7, 4, 1, 0}, {0.5f, 0.4f, 0.9f}, -0.6),
                                          make_path({7, 6, 3, 0}, {0.3f, 0.5f, 0.7f}, -0.8),
                                          make_path({7, 4, 0}, {0.5f, 0.2f}, -1.1)});
  f.results.append({0, 1, kHeadMean, 7}, {make_path({7, 6, 5, 4, 3, 2, 1, 0}, {0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f}, -0.1)});
  f.results.append({0, 0, 0, 7}, {make_path({7, 0}, {0.6f}, -0.5)});
  f.results.append({1, 1, kHeadMean, 4}, {make_path({4, 2, 0}, {0.5f, 0.5f}, -0.7), make_path({4}, {}, 0.0)});
  if (with_stats) {
    AttentionProfile p;
    p.layer = 0, p.head = kHeadMean;
    p.sum[0] = 2.0, p.count[0] = 7;
    p.sum[1] = 1.0, p.count[1] = 11;
    AttentionProfile q = p;
    q.layer = 1;
    q.sum[2] = 0.5, q.count[2] = 10;
    AttentionProfile h = p;
    h.head = 0;
    f.stats = compute_decay_stats(f.results, {p, q, h});
  }
  return f;
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// The JSON the Sankey page embeds.
json embedded_data(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"ratrace-data\">";
  const std::size_t begin = page.find(open);
  EXPECT_NE(begin, std::string::npos);
  const std::size_t end = page.find("</script>", begin);
  return json::parse(page.substr(begin + open.size(), end - begin - open.size()));
}

class HtmlCli : public ::testing::Test {
 protected:
  void SetUp() override {
    results = dir.file("out.h5");
    write_results_file(results, sample_file(true), false);
  }
  TempDir dir;
  std::string results;
};

// --- decay ------------------------------------------------------------------------------------

TEST_F(HtmlCli, DecayJsonMatchesTheStatsGroup) {
  const auto r = run_cli("decay " + results + " --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["source"], "stats");
  ASSERT_EQ(j["rows"].size(), 3u);  // (0, mean), (0, 0), (1, mean) sorted by (layer, head)
  EXPECT_EQ(j["rows"][0]["layer"], 0);
  EXPECT_EQ(j["rows"][0]["head"], "mean");
  EXPECT_EQ(j["rows"][1]["head"], 0);
  EXPECT_EQ(j["rows"][2]["layer"], 1);
  EXPECT_DOUBLE_EQ(j["rows"][0]["attn_mean"][0].get<double>(), 2.0 / 7.0);
  EXPECT_DOUBLE_EQ(j["rows"][0]["attn_mean"][1].get<double>(), 1.0 / 11.0);
  EXPECT_TRUE(j["rows"][0]["attn_mean"][2].is_null());  // empty bin
  // Layer 1 mean: a 7-hop path (job of alpha) and the 2-hop / 0-hop pair of beta, equal in weight per job.
  // Beta's weights are softmax(-0.7, 0).
  const double beta_hops = 2 * (std::exp(-0.7) / (std::exp(-0.7) + 1.0));
  EXPECT_NEAR(j["rows"][2]["mean_hops"].get<double>(), (7.0 + beta_hops) / 2, 1e-12);
  EXPECT_NEAR(j["rows"][2]["origin_no_hop"].get<double>(), (1.0 / (std::exp(-0.7) + 1.0)) / 2, 1e-12);
  EXPECT_EQ(j["rows"][1]["num_jobs"], 1);
  // Per-layer curves: layer 0 averages its two rows (both have 2/7 in bin 0).
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["layers"][0]["attn_mean"][0].get<double>(), 2.0 / 7.0);
}

TEST_F(HtmlCli, DecayFiltersByLayerAndHead) {
  auto r = run_cli("decay " + results + " --format json --layer 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["rows"].size(), 1u);
  r = run_cli("decay " + results + " --format json --layer -1 --head mean");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["rows"][0]["layer"], 1);
  r = run_cli("decay " + results + " --format json --head 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["rows"].size(), 1u);
  r = run_cli("decay " + results + " --head max");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no statistics"), std::string::npos) << r.err;
  r = run_cli("decay " + results + " --layer 7");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(HtmlCli, DecayTableAndCsv) {
  auto r = run_cli("decay " + results);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Mean attention weight by distance"), std::string::npos);
  EXPECT_NE(r.out.find("2-3"), std::string::npos);
  r = run_cli("decay " + results + " --format csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::count_lines(r.out), 4);  // header + 3 rows
  EXPECT_EQ(r.out.rfind("layer,head,num_jobs,mean_hops", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\n1,mean,2,"), std::string::npos) << r.out;
}

TEST_F(HtmlCli, DecayPlotIsAStandaloneSvgWithOneLinePerLayer) {
  const std::string plot = dir.file("decay.svg");
  const auto r = run_cli("decay " + results + " --plot " + plot);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string svg = read_text_file(plot);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("layer 0"), std::string::npos);
  EXPECT_NE(svg.find("layer 1"), std::string::npos);
  EXPECT_NE(svg.find("distance i"), std::string::npos);  // axis label
  EXPECT_EQ(count(svg, "stroke-width=\"2\""), 4);  // 2 layers x 2 panels
  EXPECT_EQ(count(svg, "<svg"), 1);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
}

TEST_F(HtmlCli, DecayWithoutStatsUsesThePaths) {
  const std::string bare = dir.file("bare.h5");
  write_results_file(bare, sample_file(false), false);
  const auto r = run_cli("decay " + bare + " --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no /stats group"), std::string::npos) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["source"], "paths");
  EXPECT_TRUE(j["rows"][0]["attn_mean"][0].is_null());
  EXPECT_NEAR(j["rows"][2]["mean_hops"].get<double>(), 0.5 * (7.0 + 2 * std::exp(-0.7) / (std::exp(-0.7) + 1)),
              1e-12);
}

// --- render -----------------------------------------------------------------------------------

TEST_F(HtmlCli, RenderEmbedsTheJobsPathsAndNothingExternal) {
  const std::string out = dir.file("trace.html");
  const auto r = run_cli("render " + results + " --seq alpha --layer 0 --head mean --target 7 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = read_text_file(out);
  const json data = embedded_data(page);
  ASSERT_EQ(data["beams"].size(), 3u);
  EXPECT_EQ(data["beams"][1]["positions"], json({7, 6, 3, 0}));
  EXPECT_TRUE(data["beams"][1]["attn"][0].is_null());
  EXPECT_FLOAT_EQ(data["beams"][1]["attn"][2].get<float>(), 0.5f);
  double total = 0;
  for (const auto& b : data["beams"]) total += b["weight"].get<double>();
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_GT(data["beams"][0]["weight"].get<double>(), data["beams"][1]["weight"].get<double>());
  std::vector<int> positions;
  for (const auto& n : data["nodes"]) positions.push_back(n["pos"]);
  EXPECT_EQ(positions, (std::vector<int>{0, 1, 3, 4, 6, 7}));  // distinct, ascending
  EXPECT_EQ(data["nodes"][2]["token"], "</script><b>x");          // read back intact
  EXPECT_EQ(data["meta"]["head"], "mean");
  EXPECT_EQ(data["meta"]["params"]["top_beam"], 3);
  // Self-contained: no external script, style, image or link.
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("href=\"http"), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
  // The token's markup never appears raw.
  EXPECT_EQ(page.find("</script><b>"), std::string::npos);
  EXPECT_EQ(count(page, "<script"), 2);
  EXPECT_NE(page.find("window.ratraceReady = true"), std::string::npos);
}

TEST_F(HtmlCli, RenderFindsJobsByIndexNegativeTargetAndAggregateNames) {
  const std::string out = dir.file("t.html");
  auto r = run_cli("render " + results + " --seq -1 --layer -1 --head mean --target -1 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json data = embedded_data(read_text_file(out));
  EXPECT_EQ(data["meta"]["sequence"], "beta");
  EXPECT_EQ(data["meta"]["target"], 4);
  EXPECT_EQ(data["beams"].size(), 2u);
  EXPECT_EQ(data["beams"][1]["positions"], json({4}));  // a path without edges is still a beam
  r = run_cli("render " + results + " --seq 0 --layer 0 --head 0 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  data = embedded_data(read_text_file(out));
  EXPECT_EQ(data["meta"]["head"], 0);
  EXPECT_EQ(data["nodes"].size(), 2u);
}

TEST_F(HtmlCli, RenderOfAMissingJobIsExit2) {
  const std::string out = dir.file("none.html");
  auto r = run_cli("render " + results + " --seq alpha --layer 0 --head max -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no job"), std::string::npos) << r.err;
  r = run_cli("render " + results + " --seq gamma -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("gamma"), std::string::npos) << r.err;
  r = run_cli("render " + results + " --head sideways -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli("render " + results + " --seq alpha --target 3 -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(std::ifstream(out).good());
  r = run_cli("render " + dir.file("missing.h5") + " -o " + out);
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(HtmlCli, RenderNotesWhenSeveralJobsMatch) {
  const std::string out = dir.file("first.html");
  const auto r = run_cli("render " + results + " --seq alpha -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 jobs match"), std::string::npos) << r.err;
  const json data = embedded_data(read_text_file(out));
  EXPECT_EQ(data["meta"]["layer"], 0);  // the first in (sequence, layer, head, target) order
  EXPECT_EQ(data["meta"]["head"], "mean");
}

// --- report -----------------------------------------------------------------------------------

TEST_F(HtmlCli, ReportHasParamsFiguresAndExamplePaths) {
  const std::string out = dir.file("report.html");
  const auto r = run_cli("report " + results + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = read_text_file(out);
  EXPECT_NE(page.find("avg_logprob"), std::string::npos);
  EXPECT_NE(page.find("cpu (1 thread)"), std::string::npos);
  // Overall decay + one per layer (2) + two heat maps.
  EXPECT_EQ(count(page, "<svg"), 5);
  EXPECT_NE(page.find("Mean origin distance"), std::string::npos);
  EXPECT_NE(page.find("class=\"cell\""), std::string::npos);
  // All four jobs are examples (fewer than six); the 7-hop chain is shown whole, earliest first.
  EXPECT_EQ(count(page, "<div class=\"job\">"), 4);
  EXPECT_NE(page.find("&lt;/script&gt;&lt;b&gt;x"), std::string::npos);
  EXPECT_EQ(page.find("</script><b>"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);  // a static page
  EXPECT_EQ(page.find("src="), std::string::npos);
}

TEST_F(HtmlCli, ReportOfMissingFileIsExit2) {
  const auto r = run_cli("report " + dir.file("nope.h5") + " -o " + dir.file("r.html"));
  EXPECT_EQ(r.exit_code, 2);
}

// --- building blocks --------------------------------------------------------------------------

TEST(HtmlUtil, EscapesMarkupAndScriptEnds) {
  EXPECT_EQ(html::escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  const std::string j = html::json_for_script(json{{"t", "</script><!--"}});
  EXPECT_EQ(j.find('<'), std::string::npos);
  EXPECT_EQ(json::parse(j)["t"], "</script><!--");
  EXPECT_EQ(html::num(12.5), "12.5");
  EXPECT_EQ(html::num(3.0), "3");
  EXPECT_EQ(html::num(-0.001), "0");
}

TEST(HtmlUtil, DistanceTicks) {
  EXPECT_EQ(html::distance_tick(0), "1");
  EXPECT_EQ(html::distance_tick(9), "512");
  EXPECT_EQ(html::distance_tick(10), "1k");
  EXPECT_EQ(html::distance_tick(21), "2M");
}

TEST(ExampleJobs, SpreadOverLayersFirst) {
  ResultsFile f = sample_file(false);
  // 4 jobs in 3 (layer, head) pairs + one more sequence: asking for 2 gives one per layer, mean heads.
  const std::vector<std::size_t> two = html::example_jobs(f, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(f.results.jobs[two[0]].layer, 0);
  EXPECT_EQ(f.results.jobs[two[0]].head, kHeadMean);
  EXPECT_EQ(f.results.jobs[two[1]].layer, 1);
  const std::vector<std::size_t> three = html::example_jobs(f, 3);  // + the other (layer, head) pair
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(f.results.jobs[three[1]].layer, 0);  // in job order: (0, mean), (0, head 0), (1, mean)
  EXPECT_EQ(f.results.jobs[three[1]].head, 0);
  EXPECT_EQ(html::example_jobs(f, 6).size(), 4u);  // then the remaining job (another sequence)
}

TEST(SankeyData, LongChainHasOneNodePerPosition) {
  ResultsFile f;
  f.params_json = "{}";
  f.sequence_names = {"long"};
  f.sequence_length = {700};
  f.token_begin = {0, 0};
  std::vector<std::int32_t> chain;
  std::vector<float> edges;
  for (int p = 650; p >= 0; --p) chain.push_back(p);
  edges.assign(650, 0.9f);
  f.results.append({0, 0, 1, 650}, {make_path(chain, edges, std::log(0.9))});
  const json data = html::sankey_data(f, 0, "x.h5");
  EXPECT_EQ(data["nodes"].size(), 651u);
  EXPECT_TRUE(data["nodes"][0]["token"].is_null());  // no tokens stored
  EXPECT_EQ(data["beams"][0]["weight"], 1.0);
}

}  // namespace
}  // namespace ratrace
