#pragma once
// One chunk of a 1-D dataset, encoded exactly as HDF5's shuffle + deflate filter pipeline would
// store it, so that the results writer can compress chunks on many threads and hand them to
// H5Dwrite_chunk, while any HDF5 reader (h5py included) decodes them with its stock filters.
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

// The inverse, for tests: inflates (with zlib, a decoder independent of the encoder) and
// unshuffles a whole chunk (chunk_elems elements).
std::vector<unsigned char> decode_chunk(const std::vector<unsigned char>& encoded, std::size_t elem_size,
                                        std::size_t chunk_elems);

}  // namespace ratrace
