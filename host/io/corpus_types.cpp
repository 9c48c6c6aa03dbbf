#include "io/corpus_types.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>

namespace ratrace {

std::string_view dtype_name(AttnDtype dtype) {
  switch (dtype) {
    case AttnDtype::float16: return "float16";
    case AttnDtype::bfloat16: return "bfloat16";
    case AttnDtype::float32: return "float32";
    case AttnDtype::float64: return "float64";
  }
  return "unknown";
}

std::size_t dtype_size(AttnDtype dtype) {
  switch (dtype) {
    case AttnDtype::float16:
    case AttnDtype::bfloat16: return 2;
    case AttnDtype::float32: return 4;
    case AttnDtype::float64: return 8;
  }
  return 0;
}

}  // namespace ratrace

namespace ratrace::corpus {
namespace {

struct FloatLayout {
  std::size_t spos, epos, esize, mpos, msize, ebias;
};

FloatLayout float_layout(hid_t type) {
  FloatLayout l{};
  H5Tget_fields(type, &l.spos, &l.epos, &l.esize, &l.mpos, &l.msize);
  l.ebias = H5Tget_ebias(type);
  return l;
}

bool is_binary16(const FloatLayout& l) {
  return l.spos == 15 && l.epos == 10 && l.esize == 5 && l.mpos == 0 && l.msize == 10 && l.ebias == 15;
}

bool is_bfloat16_layout(const FloatLayout& l) {
  return l.spos == 15 && l.epos == 7 && l.esize == 8 && l.mpos == 0 && l.msize == 7 && l.ebias == 127;
}

// h5py's bool: an enum over int8 with exactly FALSE = 0 and TRUE = 1.
bool is_h5py_bool(hid_t type) {
  if (H5Tget_nmembers(type) != 2) return false;
  char* first = H5Tget_member_name(type, 0);
  char* second = H5Tget_member_name(type, 1);
  const bool named = first && second && std::strcmp(first, "FALSE") == 0 && std::strcmp(second, "TRUE") == 0;
  H5free_memory(first);
  H5free_memory(second);
  return named;
}

// The stored bits, in native byte order, without conversion of values.
h5::Handle native_order_copy(hid_t file_type) {
  h5::Handle copy = h5::type_handle(H5Tcopy(file_type));
  H5Tset_order(copy, H5Tget_order(H5T_NATIVE_UINT16));
  return copy;
}

}  // namespace

std::string describe_type(hid_t type) {
  const std::size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
    case H5T_FLOAT:
      if (bits == 16 && is_bfloat16_layout(float_layout(type))) return "bfloat16";
      return fmt::format("float{}", bits);
    case H5T_STRING: return H5Tis_variable_str(type) > 0 ? "string (variable length)" : "string (fixed length)";
    case H5T_ENUM: return is_h5py_bool(type) ? "bool" : "enum";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    default: return "unknown type";
  }
}

std::string format_shape(const std::vector<hsize_t>& dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

std::optional<StoredAttention> classify_attention_type(hid_t dataset, std::string& why) {
  h5::Handle ftype = h5::type_handle(H5Dget_type(dataset));
  const H5T_class_t cls = H5Tget_class(ftype);
  const std::size_t size = H5Tget_size(ftype);
  const std::string what = describe_type(ftype);
  const char* expected = "expected float16, float32, float64, or uint16 with attribute dtype=\"bfloat16\"";

  if (cls == H5T_FLOAT) {
    if (size == 4) return StoredAttention{AttnDtype::float32, h5::type_handle(H5Tcopy(H5T_NATIVE_FLOAT))};
    if (size == 8) return StoredAttention{AttnDtype::float64, h5::type_handle(H5Tcopy(H5T_NATIVE_DOUBLE))};
    if (size == 2) {
      const FloatLayout layout = float_layout(ftype);
      if (is_binary16(layout)) return StoredAttention{AttnDtype::float16, native_order_copy(ftype)};
      if (is_bfloat16_layout(layout)) return StoredAttention{AttnDtype::bfloat16, native_order_copy(ftype)};
      why = fmt::format("has a 16-bit float type that is neither IEEE half nor bfloat16: {}", expected);
      return std::nullopt;
    }
    why = fmt::format("has dtype {}: {}", what, expected);
    return std::nullopt;
  }
  if (cls == H5T_INTEGER && size == 2 && H5Tget_sign(ftype) == H5T_SGN_NONE) {
    const std::optional<std::string> tag = h5::read_attr_string(dataset, "dtype");
    if (tag == "bfloat16") return StoredAttention{AttnDtype::bfloat16, h5::type_handle(H5Tcopy(H5T_NATIVE_UINT16))};
    why = tag ? fmt::format("has dtype uint16 with attribute dtype=\"{}\": {}", *tag, expected)
              : fmt::format("has dtype uint16 without attribute dtype=\"bfloat16\": {}", expected);
    return std::nullopt;
  }
  why = fmt::format("has dtype {}: {}", what, expected);
  return std::nullopt;
}

}  // namespace ratrace::corpus
