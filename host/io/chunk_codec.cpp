#include "io/chunk_codec.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <cstring>
#include <stdexcept>

namespace ratrace {
namespace {

// HDF5's shuffle: byte b of element i goes to b * n + i, over the whole chunk.
template <std::size_t kSize>
void shuffle_fixed(const unsigned char* in, unsigned char* out, std::size_t n) {
  unsigned char* lanes[kSize];
  for (std::size_t b = 0; b < kSize; ++b) lanes[b] = out + b * n;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t b = 0; b < kSize; ++b) lanes[b][i] = in[i * kSize + b];
}

void shuffle(const unsigned char* in, unsigned char* out, std::size_t elem_size, std::size_t n) {
  switch (elem_size) {
    case 4: return shuffle_fixed<4>(in, out, n);
    case 8: return shuffle_fixed<8>(in, out, n);
    default:
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t b = 0; b < elem_size; ++b) out[b * n + i] = in[i * elem_size + b];
  }
}

}  // namespace

std::vector<unsigned char> encode_chunk(const void* data, std::size_t elem_size, std::size_t valid_elems,
                                        std::size_t chunk_elems, int level) {
  if (valid_elems > chunk_elems) throw std::logic_error("encode_chunk: more elements than the chunk holds");
  const std::size_t bytes = elem_size * chunk_elems;
  std::vector<unsigned char> whole;
  const unsigned char* in = static_cast<const unsigned char*>(data);
  if (valid_elems < chunk_elems) {  // edge chunk: pad with zeros
    whole.assign(bytes, 0);
    std::memcpy(whole.data(), data, elem_size * valid_elems);
    in = whole.data();
  }
  std::vector<unsigned char> shuffled(bytes);
  shuffle(in, shuffled.data(), elem_size, chunk_elems);

  uLongf out_size = compressBound(static_cast<uLong>(bytes));
  std::vector<unsigned char> out(out_size);
  const int rc = compress2(out.data(), &out_size, shuffled.data(), static_cast<uLong>(bytes), level);
  if (rc != Z_OK) throw std::runtime_error(fmt::format("zlib compress2 failed ({})", rc));
  out.resize(out_size);
  return out;
}

std::vector<unsigned char> decode_chunk(const std::vector<unsigned char>& encoded, std::size_t elem_size,
                                        std::size_t chunk_elems) {
  const std::size_t bytes = elem_size * chunk_elems;
  std::vector<unsigned char> shuffled(bytes);
  uLongf size = static_cast<uLongf>(bytes);
  const int rc = uncompress(shuffled.data(), &size, encoded.data(), static_cast<uLong>(encoded.size()));
  if (rc != Z_OK || size != bytes) throw std::runtime_error(fmt::format("zlib uncompress failed ({})", rc));
  std::vector<unsigned char> out(bytes);
  for (std::size_t i = 0; i < chunk_elems; ++i)
    for (std::size_t b = 0; b < elem_size; ++b) out[i * elem_size + b] = shuffled[b * chunk_elems + i];
  return out;
}

}  // namespace ratrace
