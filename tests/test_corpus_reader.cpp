// CorpusReader (SPEC §4): every stored dtype widened exactly, hyperslab reads, ordering, the
// per-position datasets, and every structural bad input refused with a message that names it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "ratrace/corpus_reader.hpp"
#include "ratrace/detail/float_convert.hpp"
#include "ratrace/errors.hpp"
#include "support/corpus_builder.hpp"

using namespace ratrace;
using ratrace::testing::CorpusBuilder;
using ratrace::testing::TempDir;

namespace {

// A valid [L][H][S][S] float32 attention with distinct values: value = index / 1000.
std::vector<float> counting(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t k = 0; k < n; ++k) v[k] = static_cast<float>(k) / 1000.0f;
  return v;
}

// Expects the reader to refuse `path` with an InputError whose message contains `needle`.
void expect_input_error(const std::string& path, const std::string& needle) {
  try {
    CorpusReader reader(path);
    ADD_FAILURE() << "accepted " << path << ", expected an error containing: " << needle;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

}  // namespace

TEST(CorpusReader, Float32ReadsBackExactlyWithInfo) {
  TempDir dir;
  const std::string path = dir.file("f32.h5");
  {
    CorpusBuilder b(path);
    b.attr_int("bos_token_id", 7).attr_string("model", "tiny-model");
    b.sequence("s0").attention_f32({2, 3, 4, 4}, counting(2 * 3 * 16));
  }
  CorpusReader r(path);
  ASSERT_EQ(r.sequences().size(), 1u);
  const SequenceInfo& s = r.sequences()[0];
  EXPECT_EQ(s.name, "s0");
  EXPECT_EQ(s.num_layers, 2);
  EXPECT_EQ(s.num_heads, 3);
  EXPECT_EQ(s.seq_len, 4);
  EXPECT_EQ(s.dtype, AttnDtype::float32);
  EXPECT_TRUE(s.chunk_dims.empty());
  EXPECT_EQ(s.deflate_level, -1);
  EXPECT_FALSE(s.has_token_ids || s.has_tokens || s.has_mask);
  EXPECT_EQ(r.bos_token_id(), 7);
  EXPECT_EQ(r.model(), "tiny-model");
  EXPECT_EQ(r.path(), path);
  EXPECT_EQ(r.dataset_label(0, "attention"), path + ":/sequences/s0/attention");

  std::vector<float> out(2 * 16);
  r.read_heads(0, 1, 1, 2, out.data());  // layer 1, heads 1..2
  const std::vector<float> all = counting(2 * 3 * 16);
  for (std::size_t k = 0; k < out.size(); ++k) EXPECT_EQ(out[k], all[(1 * 3 + 1) * 16 + k]) << k;
  EXPECT_TRUE(r.read_token_ids(0).empty());
  EXPECT_TRUE(r.read_tokens(0).empty());
  EXPECT_TRUE(r.read_mask(0).empty());
  EXPECT_FALSE(CorpusReader(path).sequences().empty());  // reopening works
}

TEST(CorpusReader, Float16WidensExactlyIncludingSubnormals) {
  TempDir dir;
  const std::string path = dir.file("f16.h5");
  // 1.0, smallest subnormal 2^-24, largest subnormal 1023 * 2^-24, 65504 (max), 1/3 rounded,
  // -2, 0, -0, +Inf.
  const std::vector<std::uint16_t> bits = {0x3c00, 0x0001, 0x03ff, 0x7bff, 0x3555, 0xc000, 0x0000, 0x8000, 0x7c00};
  const std::vector<float> expected = {1.0f,     std::ldexp(1.0f, -24), 1023.0f * std::ldexp(1.0f, -24),
                                       65504.0f, 0.333251953125f,       -2.0f,
                                       0.0f,     -0.0f,                 INFINITY};
  CorpusBuilder(path).sequence("s").attention_f16_bits({1, 1, 3, 3}, bits);
  CorpusReader r(path);
  EXPECT_EQ(r.sequences()[0].dtype, AttnDtype::float16);
  std::vector<float> out(9);
  r.read_heads(0, 0, 0, 1, out.data());
  for (int k = 0; k < 9; ++k) {
    EXPECT_EQ(out[k], expected[k]) << k;
    EXPECT_EQ(std::signbit(out[k]), std::signbit(expected[k])) << k;
  }
  std::vector<std::uint16_t> raw(9);
  r.read_heads_raw(0, 0, 0, 1, raw.data());
  EXPECT_EQ(raw, bits);
  EXPECT_EQ(dtype_size(AttnDtype::float16), 2u);
  EXPECT_EQ(dtype_name(AttnDtype::float16), "float16");
}

TEST(CorpusReader, Float16WidensAllBitPatternsAsTheGpuRuleDoes) {
  // Every one of the 65,536 float16 patterns (NaN payloads, subnormals, both zeros) must widen to
  // the bits of detail::half_bits_to_float, the rule the GPU kernels apply (itself checked against
  // an independent reference in test_shared_logic.cpp), through the reader's whole-head loop.
  TempDir dir;
  const std::string path = dir.file("all_f16.h5");
  std::vector<std::uint16_t> bits(65536);
  for (std::size_t k = 0; k < bits.size(); ++k) bits[k] = static_cast<std::uint16_t>(k);
  CorpusBuilder(path).sequence("s").attention_f16_bits({1, 1, 256, 256}, bits);
  std::vector<float> out(bits.size());
  CorpusReader(path).read_heads(0, 0, 0, 1, out.data());
  int wrong = 0;
  for (std::size_t k = 0; k < bits.size(); ++k)
    if (detail::float_to_bits(out[k]) != detail::float_to_bits(detail::half_bits_to_float(bits[k])) && ++wrong <= 5)
      ADD_FAILURE() << "float16 bits 0x" << std::hex << bits[k] << " widened to 0x" << detail::float_to_bits(out[k]);
  EXPECT_EQ(wrong, 0);
}

TEST(CorpusReader, Bfloat16WithAttributeWidensExactly) {
  TempDir dir;
  const std::string path = dir.file("bf16.h5");
  const std::vector<std::uint16_t> bits = {0x3f80, 0x3eab, 0x0001, 0xbf00};
  const std::vector<float> expected = {1.0f, 0.333984375f, std::ldexp(1.0f, -133), -0.5f};
  CorpusBuilder(path).sequence("s").attention_bf16_bits({1, 1, 2, 2}, bits);
  CorpusReader r(path);
  EXPECT_EQ(r.sequences()[0].dtype, AttnDtype::bfloat16);
  std::vector<float> out(4);
  r.read_heads(0, 0, 0, 1, out.data());
  for (int k = 0; k < 4; ++k) EXPECT_EQ(out[k], expected[k]) << k;
  std::vector<std::uint16_t> raw(4);
  r.read_heads_raw(0, 0, 0, 1, raw.data());
  EXPECT_EQ(raw, bits);
}

TEST(CorpusReader, Float64NarrowsRoundingToNearestEven) {
  TempDir dir;
  const std::string path = dir.file("f64.h5");
  const double half_ulp = std::ldexp(1.0, -24);  // half a float ulp at 1.0
  const std::vector<double> values = {0.1, 1.0 + half_ulp, 1.0 + 3 * half_ulp, 1.0 + 1.1 * half_ulp};
  // 1 + 2^-24 ties to 1 (even); 1 + 3 * 2^-24 ties to 1 + 2^-22 (even); 1 + 1.1 * 2^-24 rounds up.
  const std::vector<float> expected = {0.1f, 1.0f, 1.0f + std::ldexp(1.0f, -22), 1.0f + std::ldexp(1.0f, -23)};
  CorpusBuilder(path).sequence("s").attention_f64({1, 1, 2, 2}, values);
  CorpusReader r(path);
  EXPECT_EQ(r.sequences()[0].dtype, AttnDtype::float64);
  std::vector<float> out(4);
  r.read_heads(0, 0, 0, 1, out.data());
  for (int k = 0; k < 4; ++k) EXPECT_EQ(out[k], expected[k]) << k;
  std::vector<double> raw(4);
  r.read_heads_raw(0, 0, 0, 1, raw.data());
  EXPECT_EQ(raw, values);
}

TEST(CorpusReader, ChunkedDeflateRecordedAndOneHeadEqualsItsSliceOfTheLayer) {
  TempDir dir;
  const std::string path = dir.file("chunked.h5");
  const std::vector<float> data = counting(2 * 3 * 10 * 10);
  CorpusBuilder(path).sequence("s").attention_f32({2, 3, 10, 10}, data, {1, 1, 4, 10}, 6);
  CorpusReader r(path);
  const SequenceInfo& s = r.sequences()[0];
  EXPECT_EQ(s.chunk_dims, (std::vector<unsigned long long>{1, 1, 4, 10}));
  EXPECT_EQ(s.deflate_level, 6);
  std::vector<float> layer(3 * 100), head(100);
  r.read_heads(0, 1, 0, 3, layer.data());
  for (int h = 0; h < 3; ++h) {
    r.read_heads(0, 1, h, 1, head.data());
    for (int k = 0; k < 100; ++k) ASSERT_EQ(head[k], layer[h * 100 + k]) << h << " " << k;
  }
  for (std::size_t k = 0; k < layer.size(); ++k) ASSERT_EQ(layer[k], data[300 + k]);
}

TEST(CorpusReader, LargeFloat16HeadsReadInSeveralBlocks) {
  // 2 heads x 1500 x 1500: more than one 4M-element block, in chunks of 100 rows.
  TempDir dir;
  const std::string path = dir.file("big16.h5");
  const hsize_t n = 1500;
  std::vector<std::uint16_t> bits(2 * n * n);
  for (std::size_t k = 0; k < bits.size(); ++k) bits[k] = static_cast<std::uint16_t>((k * 7919) % 0x7c00);
  CorpusBuilder(path).sequence("s").attention_f16_bits({1, 2, n, n}, bits, {1, 1, 100, n});
  CorpusReader r(path);
  std::vector<float> out(bits.size());
  r.read_heads(0, 0, 0, 2, out.data());
  for (std::size_t k = 0; k < bits.size(); ++k)
    ASSERT_EQ(out[k], detail::half_bits_to_float(bits[k])) << k;
  std::vector<float> second(n * n);
  r.read_heads(0, 0, 1, 1, second.data());
  for (std::size_t k = 0; k < second.size(); k += 997) ASSERT_EQ(second[k], out[n * n + k]);
}

TEST(CorpusReader, SequencesAreOrderedByteWise) {
  TempDir dir;
  const std::string path = dir.file("order.h5");
  {
    CorpusBuilder b(path);
    int k = 0;
    for (const char* name : {"b", "a", "B", "a0", "_x", "A1"})
      b.sequence(name).attention_f32({1, 1, 2, 2}, {1, 0, 0.5f, 0.5f + k++});
  }
  CorpusReader r(path);
  std::vector<std::string> names;
  for (const auto& s : r.sequences()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"A1", "B", "_x", "a", "a0", "b"}));
  // Index 3 is "a" (written second: k = 1).
  std::vector<float> out(4);
  r.read_heads(3, 0, 0, 1, out.data());
  EXPECT_EQ(out[3], 1.5f);
}

TEST(CorpusReader, TokenIdsTokensAndMasks) {
  TempDir dir;
  const std::string path = dir.file("tokens.h5");
  {
    CorpusBuilder b(path);
    b.attr_int("bos_token_id", 50256, H5T_STD_U16BE);  // any integer type
    b.sequence("a").attention_f32({1, 1, 3, 3}, counting(9)).token_ids({50256, 12, -3}).tokens({"<s>", " héllo", ""}).mask({0, 1, 1});
    auto s = b.sequence("b").attention_f32({1, 1, 3, 3}, counting(9)).tokens_fixed({"x", "yy", "zzzz"}, 4).mask_bool({1, 0, 1});
    b.dataset<std::int32_t>(s.path("token_ids"), H5T_STD_I32BE, H5T_NATIVE_INT32, {3}, {5, 6, 7});
  }
  CorpusReader r(path);
  EXPECT_EQ(r.bos_token_id(), 50256);
  EXPECT_EQ(r.model(), std::nullopt);
  const SequenceInfo& a = r.sequences()[0];
  EXPECT_TRUE(a.has_token_ids && a.has_tokens && a.has_mask);
  EXPECT_EQ(r.read_token_ids(0), (std::vector<std::int64_t>{50256, 12, -3}));
  EXPECT_EQ(r.read_tokens(0), (std::vector<std::string>{"<s>", " héllo", ""}));
  EXPECT_EQ(r.read_mask(0), (std::vector<std::uint8_t>{0, 1, 1}));
  EXPECT_EQ(r.read_token_ids(1), (std::vector<std::int64_t>{5, 6, 7}));
  EXPECT_EQ(r.read_tokens(1), (std::vector<std::string>{"x", "yy", "zzzz"}));
  EXPECT_EQ(r.read_mask(1), (std::vector<std::uint8_t>{1, 0, 1}));
}

TEST(CorpusReader, MaskValueOtherThanZeroOrOneNamesThePosition) {
  TempDir dir;
  const std::string path = dir.file("mask.h5");
  CorpusBuilder(path).sequence("s").attention_f32({1, 1, 4, 4}, counting(16)).mask({1, 1, 1, 2});
  CorpusReader r(path);  // values are checked when read
  try {
    r.read_mask(0);
    ADD_FAILURE() << "accepted a mask value of 2";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":/sequences/s/attention_mask[3] is 2: a mask holds only 0 and 1");
  }
}

TEST(CorpusReader, OutOfRangeReadsThrow) {
  TempDir dir;
  const std::string path = dir.file("range.h5");
  CorpusBuilder(path).sequence("s").attention_f32({2, 2, 2, 2}, counting(16));
  CorpusReader r(path);
  std::vector<float> out(16);
  EXPECT_THROW(r.read_heads(1, 0, 0, 1, out.data()), std::out_of_range);
  EXPECT_THROW(r.read_heads(0, 2, 0, 1, out.data()), std::out_of_range);
  EXPECT_THROW(r.read_heads(0, 0, 1, 2, out.data()), std::out_of_range);
  EXPECT_THROW(r.read_tokens(-1), std::out_of_range);
}

// ---- structural bad input ---------------------------------------------------------------------

TEST(CorpusReaderBadInput, MissingFile) {
  TempDir dir;
  expect_input_error(dir.file("nope.h5"), "cannot open '" + dir.file("nope.h5") + "': no such file");
}

TEST(CorpusReaderBadInput, NotHdf5) {
  TempDir dir;
  const std::string path = dir.file("text.h5");
  std::ofstream(path) << "layer,head\n0,0\n";
  expect_input_error(path, "'" + path + "' is not an HDF5 file");
}

TEST(CorpusReaderBadInput, NoSequencesGroupOrEmptyOrNotAGroup) {
  TempDir dir;
  const std::string none = dir.file("none.h5"), empty = dir.file("empty.h5"), stray = dir.file("stray.h5");
  CorpusBuilder(none).attr_int("bos_token_id", 1);
  CorpusBuilder(empty).group("sequences");
  {
    CorpusBuilder b(stray);
    b.sequence("ok").attention_f32({1, 1, 1, 1}, {1.0f});
    b.dataset<float>("sequences/loose", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1}, {1.0f});
  }
  expect_input_error(none, none + ":/sequences is missing");
  expect_input_error(empty, empty + ":/sequences is empty");
  expect_input_error(stray, stray + ":/sequences/loose is not a group");
}

TEST(CorpusReaderBadInput, MissingAttention) {
  TempDir dir;
  const std::string path = dir.file("noattn.h5");
  {
    CorpusBuilder b(path);
    b.sequence("s0").attention_f32({1, 1, 2, 2}, counting(4));
    b.sequence("s1").token_ids({1, 2});
  }
  expect_input_error(path, path + ":/sequences/s1/attention is missing");
}

TEST(CorpusReaderBadInput, WrongRankAndNonSquareAndEmpty) {
  TempDir dir;
  const std::string rank3 = dir.file("rank3.h5"), wide = dir.file("wide.h5"), zero = dir.file("zero.h5");
  CorpusBuilder(rank3).dataset<float>("sequences/s0/attention", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 3, 3}, counting(9));
  CorpusBuilder(wide).dataset_raw("sequences/s0/attention", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 4, 10, 12}, nullptr);
  CorpusBuilder(zero).dataset_raw("sequences/s0/attention", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {0, 4, 3, 3}, nullptr);
  expect_input_error(rank3, rank3 + ":/sequences/s0/attention has shape [1, 3, 3]: expected 4 dimensions");
  expect_input_error(wide, wide + ":/sequences/s0/attention has shape [2, 4, 10, 12]: matrices must be square");
  expect_input_error(zero, zero + ":/sequences/s0/attention has shape [0, 4, 3, 3]: needs at least one layer");
}

TEST(CorpusReaderBadInput, PerPositionLengthsMustMatch) {
  TempDir dir;
  const std::string ids = dir.file("ids.h5"), toks = dir.file("toks.h5"), mask = dir.file("mask.h5");
  CorpusBuilder(ids).sequence("s").attention_f32({1, 1, 3, 3}, counting(9)).token_ids({1, 2});
  CorpusBuilder(toks).sequence("s").attention_f32({1, 1, 3, 3}, counting(9)).tokens({"a", "b", "c", "d"});
  CorpusBuilder(mask).sequence("s").attention_f32({1, 1, 3, 3}, counting(9)).mask({1});
  expect_input_error(ids, ids + ":/sequences/s/token_ids has shape [2]: expected [3]");
  expect_input_error(toks, toks + ":/sequences/s/tokens has shape [4]: expected [3]");
  expect_input_error(mask, mask + ":/sequences/s/attention_mask has shape [1]: expected [3]");
}

TEST(CorpusReaderBadInput, PerPositionTypesMustFit) {
  TempDir dir;
  const std::string toks = dir.file("toks.h5"), ids = dir.file("ids.h5"), mask = dir.file("mask.h5");
  {
    CorpusBuilder b(toks);
    auto s = b.sequence("s").attention_f32({1, 1, 2, 2}, counting(4));
    b.dataset<std::int64_t>(s.path("tokens"), H5T_STD_I64LE, H5T_NATIVE_INT64, {2}, {1, 2});
  }
  {
    CorpusBuilder b(ids);
    auto s = b.sequence("s").attention_f32({1, 1, 2, 2}, counting(4));
    b.strings(s.path("token_ids"), {"1", "2"});
  }
  {
    CorpusBuilder b(mask);
    auto s = b.sequence("s").attention_f32({1, 1, 2, 2}, counting(4));
    b.dataset<float>(s.path("attention_mask"), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2}, {1.0f, 1.0f});
  }
  expect_input_error(toks, toks + ":/sequences/s/tokens has dtype int64: expected strings");
  expect_input_error(ids, ids + ":/sequences/s/token_ids has dtype string (variable length): expected integers");
  expect_input_error(mask, mask + ":/sequences/s/attention_mask has dtype float32: expected 0/1 integers or bool");
}

TEST(CorpusReaderBadInput, UnsupportedAttentionDtypes) {
  TempDir dir;
  const std::string i32 = dir.file("i32.h5"), u16 = dir.file("u16.h5"), tagged = dir.file("tagged.h5");
  CorpusBuilder(i32).dataset<std::int32_t>("sequences/s/attention", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 1, 2, 2},
                                           {1, 0, 0, 1});
  CorpusBuilder(u16).sequence("s").attention_bf16_bits({1, 1, 2, 2}, {0x3f80, 0, 0, 0x3f80}, "");
  CorpusBuilder(tagged).sequence("s").attention_bf16_bits({1, 1, 2, 2}, {0x3f80, 0, 0, 0x3f80}, "float16");
  expect_input_error(i32, i32 + ":/sequences/s/attention has dtype int32: expected float16, float32, float64");
  expect_input_error(u16, u16 + ":/sequences/s/attention has dtype uint16 without attribute dtype=\"bfloat16\"");
  expect_input_error(tagged, tagged + ":/sequences/s/attention has dtype uint16 with attribute dtype=\"float16\"");
}

TEST(CorpusReaderBadInput, BosTokenIdMustBeAnInteger) {
  TempDir dir;
  const std::string path = dir.file("bos.h5");
  {
    CorpusBuilder b(path);
    const double one = 1.0;
    b.attr_raw("/", "bos_token_id", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &one);
    b.sequence("s").attention_f32({1, 1, 1, 1}, {1.0f});
  }
  expect_input_error(path, path + ": root attribute bos_token_id has dtype float64: expected an integer");
}
