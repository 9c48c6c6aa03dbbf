#pragma once
// HDF5's shuffle and deflate filters, done by us on many threads instead of by HDF5 on one:
// - encoding, for the results writer: chunks compressed on a pool and handed to H5Dwrite_chunk,
//   which any HDF5 reader (h5py included) decodes with its stock filters;
// - decoding, for the corpus reader: raw chunks from H5Dread_chunk inflated and unshuffled on a
//   pool (io/direct_read.hpp).
#include <cstddef>
#include <vector>

namespace ratrace {

// The deflate level (libdeflate's scale, 1..12; HDF5 records it, decoders do not need it) of the
// results file's big arrays. On traced 1,024-token paths (BM_EncodeChunk, BM_ResultsWriter), level 1
// wrote 9-14% faster than the earlier zlib level 3 and 11% smaller; higher levels were slower for
// at most 15% more.
inline constexpr int kResultsDeflateLevel = 1;
static_assert(kResultsDeflateLevel >= 1 && kResultsDeflateLevel <= 9, "HDF5's deflate filter records levels 0..9");

// Encodes `valid_elems` elements of `elem_size` bytes (the rest of the chunk's `chunk_elems` are
// zero padding, as HDF5 stores edge chunks whole): byte shuffle, then a zlib stream. Thread-safe;
// each thread keeps its own compressor and scratch buffers, so that a writer's pool encodes chunk
// after chunk without setting up a compressor or faulting in fresh scratch pages (only the
// returned, compressed bytes are a new allocation).
std::vector<unsigned char> encode_chunk(const void* data, std::size_t elem_size, std::size_t valid_elems,
                                        std::size_t chunk_elems, int level);

// Inflates the zlib stream `in` (libdeflate, one decompressor per thread) into exactly
// `out_size` bytes. False when the stream is corrupt, fails its checksum or has another size.
bool inflate_exact(const unsigned char* in, std::size_t in_size, unsigned char* out, std::size_t out_size);

// Undoes HDF5's shuffle of n elements of elem_size bytes: byte b of element i is in[b * n + i].
void unshuffle(const unsigned char* in, std::size_t elem_size, std::size_t n, unsigned char* out);

// The inverse of encode_chunk, for tests: inflates (with zlib, a decoder independent of the encoder) and
// unshuffles a whole chunk (chunk_elems elements).
std::vector<unsigned char> decode_chunk(const std::vector<unsigned char>& encoded, std::size_t elem_size,
                                        std::size_t chunk_elems);

}  // namespace ratrace
