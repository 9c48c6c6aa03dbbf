// `ratrace synth -o FILE`: writes a synthetic corpus (SPEC §4) for tests, benchmarks and demos.
#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "cli/commands.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/synth.hpp"
#include "util/counted.hpp"

namespace ratrace::cli {
namespace {

struct SynthArgs {
  std::string output;
  SynthOptions options;
  int len = 0;
  std::string dtype = "float32";
  std::int64_t bos = 1;
  bool no_bos = false;
  bool no_tokens = false;
  bool force = false;
};

const std::map<std::string, AttnDtype> kDtypes = {{"float16", AttnDtype::float16},
                                                  {"bfloat16", AttnDtype::bfloat16},
                                                  {"float32", AttnDtype::float32},
                                                  {"float64", AttnDtype::float64}};

void run_synth(SynthArgs& a, CLI::App& sub) {
  SynthOptions& o = a.options;
  if (a.len > 0) o.min_len = o.max_len = a.len;
  if (sub.count("--min-len") && !sub.count("--max-len") && o.max_len < o.min_len) o.max_len = o.min_len;
  if (sub.count("--max-len") && !sub.count("--min-len") && o.min_len > o.max_len) o.min_len = o.max_len;
  o.dtype = kDtypes.at(a.dtype);
  o.with_tokens = !a.no_tokens;
  o.bos_token_id = a.no_bos ? std::nullopt : std::optional<std::int64_t>(a.bos);
  if (std::filesystem::exists(a.output) && !a.force)
    throw UsageError(fmt::format("'{}' exists: pass --force to overwrite it", a.output));

  write_synthetic_corpus(a.output, o);

  std::string storage = "contiguous";
  if (o.chunk_rows > 0 || o.deflate > 0) {
    storage = fmt::format("chunks of {} rows", o.chunk_rows > 0 ? o.chunk_rows : 64);
    if (o.deflate > 0) storage += fmt::format(", deflate {}", o.deflate);
  }
  fmt::print("wrote {}: {}, {} x {}, lengths {}..{}, {}, {}{}{}{}{}, seed {}\n", a.output,
             counted(o.num_sequences, "sequence", "sequences"), counted(o.num_layers, "layer", "layers"),
             counted(o.num_heads, "head", "heads"), o.min_len, o.max_len, a.dtype, storage,
             o.bos_token_id ? fmt::format(", bos_token_id {}", *o.bos_token_id) : ", no bos_token_id",
             o.with_tokens ? "" : ", no tokens", o.with_mask ? ", with attention_mask" : "",
             o.tie_levels > 0 ? fmt::format(", ties at 1/{}", o.tie_levels) : "", o.seed);
}

}  // namespace

void register_synth(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<SynthArgs>();
  auto* sub = root.add_subcommand("synth", "Write a synthetic corpus with realistic head patterns");
  SynthOptions& o = args->options;
  sub->add_option("-o,--output", args->output, "Output corpus file (.h5)")->required();
  sub->add_option("--sequences", o.num_sequences, "Number of sequences")->capture_default_str();
  sub->add_option("--layers", o.num_layers, "Layers per sequence")->capture_default_str();
  sub->add_option("--heads", o.num_heads, "Heads per layer")->capture_default_str();
  auto* min_len = sub->add_option("--min-len", o.min_len, "Shortest sequence length")->capture_default_str();
  auto* max_len = sub->add_option("--max-len", o.max_len, "Longest sequence length")->capture_default_str();
  sub->add_option("--len", args->len, "Every sequence has this length (sets --min-len and --max-len)")
      ->excludes(min_len)
      ->excludes(max_len);
  sub->add_option("--dtype", args->dtype, "Stored attention type")
      ->check(CLI::IsMember({"float16", "bfloat16", "float32", "float64"}))
      ->capture_default_str();
  sub->add_option("--chunk-rows", o.chunk_rows, "Chunk the attention as [1, 1, ROWS, S] (0: contiguous)")
      ->capture_default_str();
  sub->add_option("--deflate", o.deflate, "Deflate level 1..9 (0: none; chunks of 64 rows unless --chunk-rows)")
      ->capture_default_str();
  sub->add_flag("--mask", o.with_mask, "Write attention_mask, with left padding in every other sequence");
  sub->add_flag("--no-tokens", args->no_tokens, "Write neither token_ids nor tokens");
  auto* bos = sub->add_option("--bos-token-id", args->bos, "BOS token id (root attribute, first real token)")
                  ->capture_default_str();
  sub->add_flag("--no-bos", args->no_bos, "No BOS token and no bos_token_id attribute")->excludes(bos);
  sub->add_option("--ties", o.tie_levels, "Quantise weights to multiples of 1/LEVELS so exact ties occur (0: off)")
      ->capture_default_str();
  sub->add_option("--seed", o.seed, "Random seed (same seed, same file)")->capture_default_str();
  sub->add_flag("--force", args->force, "Overwrite an existing output file");
  sub->callback([args, sub, &exit_code] {
    run_synth(*args, *sub);
    exit_code = kExitOk;
  });
}

}  // namespace ratrace::cli
