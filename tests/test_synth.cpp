// Synthetic corpora: head matrices are distributions with the intended shape, deterministic,
// quantised on request; whole corpora round-trip through the reader in every dtype.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "ratrace/corpus_reader.hpp"
#include "ratrace/errors.hpp"
#include "ratrace/synth.hpp"
#include "support/corpus_builder.hpp"
#include "synth/narrow_float.hpp"

using namespace ratrace;
using ratrace::testing::TempDir;

namespace {

constexpr HeadPattern kPatterns[] = {HeadPattern::sink, HeadPattern::previous_token, HeadPattern::local_window,
                                     HeadPattern::induction, HeadPattern::diffuse};

int argmax_of_row(const std::vector<float>& m, int n, int i) {
  const float* row = m.data() + static_cast<std::size_t>(i) * n;
  return static_cast<int>(std::max_element(row, row + i + 1) - row);
}

}  // namespace

TEST(SynthHead, RowsAreDistributionsOverThePast) {
  const int n = 40;
  for (HeadPattern p : kPatterns) {
    const std::vector<float> m = synth_head_matrix(p, n, 11);
    ASSERT_EQ(m.size(), static_cast<std::size_t>(n * n));
    for (int i = 0; i < n; ++i) {
      double sum = 0.0;
      for (int j = 0; j < n; ++j) {
        const float v = m[i * n + j];
        if (j > i) ASSERT_EQ(v, 0.0f) << "above the diagonal, pattern " << int(p);
        else ASSERT_TRUE(v >= 0.0f && std::isfinite(v));
        sum += v;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5) << "pattern " << int(p) << " row " << i;
    }
  }
}

TEST(SynthHead, PatternsPutTheirMassWhereTheyShould) {
  const int n = 48;
  const auto sink = synth_head_matrix(HeadPattern::sink, n, 3);
  const auto prev = synth_head_matrix(HeadPattern::previous_token, n, 3);
  const auto local = synth_head_matrix(HeadPattern::local_window, n, 3);
  const auto induction = synth_head_matrix(HeadPattern::induction, n, 3);
  const auto diffuse = synth_head_matrix(HeadPattern::diffuse, n, 3);
  for (int i = 2; i < n; ++i) {
    EXPECT_EQ(argmax_of_row(sink, n, i), 0) << i;
    EXPECT_GE(sink[i * n], 0.5f) << i;
    EXPECT_EQ(argmax_of_row(prev, n, i), i - 1) << i;
    EXPECT_GE(i - argmax_of_row(local, n, i), 0);
    EXPECT_LT(i - argmax_of_row(local, n, i), 8) << i;
    if (i >= 7) {
      EXPECT_EQ(argmax_of_row(induction, n, i), i - 6) << i;  // period 7: the token after i - 7
    }
    const float* row = diffuse.data() + i * n;
    const auto [lo, hi] = std::minmax_element(row, row + i + 1);
    EXPECT_LT(*hi / *lo, 3.0f) << i;  // near uniform
  }
}

TEST(SynthHead, DeterministicInPatternLengthAndSeed) {
  EXPECT_EQ(synth_head_matrix(HeadPattern::local_window, 30, 5), synth_head_matrix(HeadPattern::local_window, 30, 5));
  EXPECT_NE(synth_head_matrix(HeadPattern::local_window, 30, 5), synth_head_matrix(HeadPattern::local_window, 30, 6));
  EXPECT_NE(synth_head_matrix(HeadPattern::sink, 30, 5), synth_head_matrix(HeadPattern::diffuse, 30, 5));
  // A known value pins the generator: it must not drift between platforms or releases.
  const auto m = synth_head_matrix(HeadPattern::sink, 4, 1);
  EXPECT_FLOAT_EQ(m[1 * 4 + 0], 0.649261951f);
  EXPECT_FLOAT_EQ(m[3 * 4 + 3], 0.0408146195f);
}

TEST(SynthHead, TieLevelsQuantiseAndCreateExactTies) {
  const int n = 32, levels = 8;
  const std::vector<float> m = synth_head_matrix(HeadPattern::diffuse, n, 9, levels);
  int rows_with_ties = 0;
  for (int i = 0; i < n; ++i) {
    double sum = 0.0;
    std::set<float> seen;
    bool tie = false;
    for (int j = 0; j <= i; ++j) {
      const float v = m[i * n + j];
      ASSERT_EQ(v * levels, std::round(v * levels)) << "not a multiple of 1/8 at " << i << "," << j;
      sum += v;
      if (j < i && v > 0.0f && !seen.insert(v).second) tie = true;
    }
    EXPECT_EQ(sum, 1.0) << i;  // multiples of 1/8 add up exactly
    rows_with_ties += tie;
  }
  EXPECT_GT(rows_with_ties, n / 2);
}

TEST(SynthHead, RejectsBadArguments) {
  EXPECT_THROW(synth_head_matrix(HeadPattern::sink, 0, 1), UsageError);
  EXPECT_THROW(synth_head_matrix(HeadPattern::sink, 4, 1, -1), UsageError);
}

TEST(NarrowFloat, HalfRoundTripsEveryFiniteValueAndRoundsHalfwayToEven) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) continue;  // NaN payloads
    const float f = detail::half_bits_to_float(static_cast<std::uint16_t>(h));
    ASSERT_EQ(synth::float_to_half_bits(f), h) << std::hex << h;
  }
  const float one_plus_half_ulp = 1.0f + std::ldexp(1.0f, -11);  // halfway between 0x3c00 and 0x3c01
  EXPECT_EQ(synth::float_to_half_bits(one_plus_half_ulp), 0x3c00);
  EXPECT_EQ(synth::float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(synth::float_to_half_bits(65520.0f), 0x7c00);        // rounds up to Inf
  EXPECT_EQ(synth::float_to_half_bits(65519.0f), 0x7bff);
  EXPECT_EQ(synth::float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);  // ties to even: zero
  EXPECT_EQ(synth::float_to_half_bits(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_TRUE(std::isnan(detail::half_bits_to_float(synth::float_to_half_bits(NAN))));
}

TEST(NarrowFloat, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(synth::float_to_bfloat16_bits(1.0f), 0x3f80);
  EXPECT_EQ(synth::float_to_bfloat16_bits(detail::bits_to_float(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(synth::float_to_bfloat16_bits(detail::bits_to_float(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(synth::float_to_bfloat16_bits(detail::bits_to_float(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(detail::bfloat16_bits_to_float(synth::float_to_bfloat16_bits(NAN))));
}

TEST(SynthCorpus, LayoutTokensMaskAndStorage) {
  TempDir dir;
  const std::string path = dir.file("synth.h5");
  SynthOptions o;
  o.num_sequences = 4;
  o.num_layers = 2;
  o.num_heads = 3;
  o.min_len = 10;
  o.max_len = 20;
  o.chunk_rows = 4;
  o.deflate = 5;
  o.with_mask = true;
  o.bos_token_id = 2;
  write_synthetic_corpus(path, o);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1) << "a temporary file was left";

  CorpusReader r(path);
  EXPECT_EQ(r.bos_token_id(), 2);
  EXPECT_EQ(r.model(), "ratrace-synth");
  ASSERT_EQ(r.sequences().size(), 4u);
  for (int s = 0; s < 4; ++s) {
    const SequenceInfo& info = r.sequences()[s];
    EXPECT_EQ(info.name, "seq_00" + std::to_string(s));
    EXPECT_EQ(info.num_layers, 2);
    EXPECT_EQ(info.num_heads, 3);
    EXPECT_GE(info.seq_len, 10);
    EXPECT_LE(info.seq_len, 20);
    EXPECT_EQ(info.chunk_dims, (std::vector<unsigned long long>{1, 1, 4, static_cast<unsigned long long>(info.seq_len)}));
    EXPECT_EQ(info.deflate_level, 5);
    ASSERT_TRUE(info.has_token_ids && info.has_tokens && info.has_mask);
    const auto ids = r.read_token_ids(s);
    const auto tokens = r.read_tokens(s);
    const auto mask = r.read_mask(s);
    const int padding = static_cast<int>(std::count(mask.begin(), mask.end(), 0));
    if (s % 2 == 0) {
      EXPECT_EQ(padding, 0);
    } else {
      EXPECT_TRUE(padding >= 1 && padding <= 3) << padding;
    }
    for (int i = 0; i < padding; ++i) EXPECT_EQ(mask[i], 0);  // left padding
    EXPECT_EQ(ids[padding], 2);
    EXPECT_EQ(tokens[padding], "<s>");
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 1);
    // Real positions never attend to padding; every row still sums to 1.
    std::vector<float> heads(3 * info.seq_len * info.seq_len);
    r.read_heads(s, 1, 0, 3, heads.data());
    const int n = info.seq_len;
    for (int h = 0; h < 3; ++h)
      for (int i = 0; i < n; ++i) {
        double sum = 0.0;
        for (int j = 0; j <= i; ++j) {
          const float v = heads[(h * n + i) * n + j];
          if (i >= padding && j < padding) {
            EXPECT_EQ(v, 0.0f);
          }
          sum += v;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
  }
}

TEST(SynthCorpus, WithoutTokensOrBos) {
  TempDir dir;
  const std::string path = dir.file("bare.h5");
  SynthOptions o;
  o.num_sequences = 1;
  o.min_len = o.max_len = 5;
  o.with_tokens = false;
  o.bos_token_id = std::nullopt;
  write_synthetic_corpus(path, o);
  CorpusReader r(path);
  EXPECT_EQ(r.bos_token_id(), std::nullopt);
  EXPECT_FALSE(r.sequences()[0].has_token_ids || r.sequences()[0].has_tokens || r.sequences()[0].has_mask);
  EXPECT_TRUE(r.sequences()[0].chunk_dims.empty());
  EXPECT_EQ(r.sequences()[0].seq_len, 5);
}

TEST(SynthCorpus, EveryDtypeRoundTripsThroughTheReader) {
  TempDir dir;
  SynthOptions o;
  o.num_sequences = 2;
  o.min_len = 20;
  o.max_len = 30;
  o.with_mask = true;
  o.dtype = AttnDtype::float32;
  write_synthetic_corpus(dir.file("f32.h5"), o);
  CorpusReader reference(dir.file("f32.h5"));

  for (AttnDtype dtype : {AttnDtype::float16, AttnDtype::bfloat16, AttnDtype::float64}) {
    o.dtype = dtype;
    const std::string path = dir.file(std::string(dtype_name(dtype)) + ".h5");
    write_synthetic_corpus(path, o);
    CorpusReader r(path);
    for (int s = 0; s < 2; ++s) {
      const SequenceInfo& info = r.sequences()[s];
      ASSERT_EQ(info.dtype, dtype);
      ASSERT_EQ(info.seq_len, reference.sequences()[s].seq_len);  // same seed, same shapes
      const std::size_t count = static_cast<std::size_t>(info.num_heads) * info.seq_len * info.seq_len;
      std::vector<float> got(count), want(count);
      for (int layer = 0; layer < info.num_layers; ++layer) {
        r.read_heads(s, layer, 0, info.num_heads, got.data());
        reference.read_heads(s, layer, 0, info.num_heads, want.data());
        for (std::size_t k = 0; k < count; ++k) {
          float expected = want[k];
          if (dtype == AttnDtype::float16) expected = detail::half_bits_to_float(synth::float_to_half_bits(want[k]));
          if (dtype == AttnDtype::bfloat16)
            expected = detail::bfloat16_bits_to_float(synth::float_to_bfloat16_bits(want[k]));
          ASSERT_EQ(got[k], expected) << dtype_name(dtype) << " seq " << s << " layer " << layer << " element " << k;
        }
      }
    }
  }
}

TEST(SynthCorpus, RejectsBadOptionsAndMissingDirectory) {
  TempDir dir;
  SynthOptions o;
  o.min_len = 10;
  o.max_len = 5;
  EXPECT_THROW(write_synthetic_corpus(dir.file("x.h5"), o), UsageError);
  o = SynthOptions{};
  o.deflate = 10;
  EXPECT_THROW(write_synthetic_corpus(dir.file("x.h5"), o), UsageError);
  o = SynthOptions{};
  EXPECT_THROW(write_synthetic_corpus(dir.file("no/such/dir/x.h5"), o), InputError);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.h5")));
}
