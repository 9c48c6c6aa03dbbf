#pragma once
// How the corpus reader names and classifies HDF5 types and shapes in its messages.
#include <hdf5.h>

#include <optional>
#include <string>
#include <vector>

#include "io/hdf5_util.hpp"
#include "ratrace/corpus_reader.hpp"

namespace ratrace::corpus {

// "int32", "uint16", "float16", "float64", "string", "bool", "enum", "compound", ...
std::string describe_type(hid_t type);
// "[2, 4, 10, 10]".
std::string format_shape(const std::vector<hsize_t>& dims);

// How an attention dataset is stored and how to read its elements as they are.
struct StoredAttention {
  AttnDtype dtype = AttnDtype::float32;
  h5::Handle raw_memory_type;  // the stored bits in native byte order (no value conversion)
};

// Classifies an attention dataset's type (SPEC §4): float16, float32, float64, or uint16 with the
// string attribute dtype = "bfloat16" (a 16-bit float type with bfloat16's layout is accepted
// too). Returns nullopt with `why` filled in for anything else.
std::optional<StoredAttention> classify_attention_type(hid_t dataset, std::string& why);

}  // namespace ratrace::corpus
