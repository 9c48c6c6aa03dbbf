#pragma once
// Small RAII and typed helpers over the HDF5 C API, shared by the corpus reader, the results
// file and the /stats group. Everything that touches hid_t outside host/io goes through here.
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ratrace::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t get() const { return id_; }
  // Gives up ownership without closing (for a close whose result the caller checks).
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

inline Handle file_handle(hid_t id) { return {id, H5Fclose}; }
inline Handle group_handle(hid_t id) { return {id, H5Gclose}; }
inline Handle dataset_handle(hid_t id) { return {id, H5Dclose}; }
inline Handle space_handle(hid_t id) { return {id, H5Sclose}; }
inline Handle type_handle(hid_t id) { return {id, H5Tclose}; }
inline Handle attr_handle(hid_t id) { return {id, H5Aclose}; }
inline Handle plist_handle(hid_t id) { return {id, H5Pclose}; }

// Turns off HDF5's own error-stack printing: we report our own, clearer errors.
void silence_errors();

// Whether `path` (relative to loc, possibly nested "a/b/c") exists as a link.
bool exists(hid_t loc, const std::string& path);

// The dimensions of a dataset's dataspace.
std::vector<hsize_t> dims(hid_t dataset);

// One filter of a dataset's pipeline (H5Pget_filter2): its id, first client values and name.
struct Filter {
  H5Z_filter_t id = H5Z_FILTER_ERROR;
  std::vector<unsigned> values;
  std::string name;
};
// The filters of a dataset creation property list, in the order they were applied.
std::vector<Filter> filters(hid_t dcpl);

// The native memory type for T (integers, float, double).
template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int8_t>) return H5T_NATIVE_INT8;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::int16_t>) return H5T_NATIVE_INT16;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return H5T_NATIVE_UINT16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  else static_assert(sizeof(T) == 0, "unsupported type");
}

// --- writing (each throws std::runtime_error naming the object on failure) ------------------
// A 1-D dataset of `n` values of native HDF5 type `type` at `data`, chunked and
// deflate-compressed when large enough to matter.
void write_raw_vector(hid_t loc, const std::string& name, hid_t type, const void* data, hsize_t n);
// The same from a vector (of any allocator).
template <class T, class Alloc>
void write_vector(hid_t loc, const std::string& name, const std::vector<T, Alloc>& values) {
  write_raw_vector(loc, name, native_type<T>(), values.data(), values.size());
}
// An empty 1-D dataset that grows (set_extent) and is filled whole chunks at a time with
// H5Dwrite_chunk: chunks of `chunk_elems`, shuffle + deflate(level) like write_vector's big arrays.
Handle create_growable_vector(hid_t loc, const std::string& name, hid_t type, hsize_t chunk_elems, int level);
// Sets a growable dataset's length, then stores one already filtered chunk (encode_chunk) at
// element offset `first` (a multiple of the chunk length).
void set_length(hid_t dataset, hsize_t n);
void write_filtered_chunk(hid_t dataset, hsize_t first, const std::vector<unsigned char>& encoded);
// A 2-D [rows][cols] dataset from row-major data.
template <class T>
void write_matrix(hid_t loc, const std::string& name, const T* data, hsize_t rows, hsize_t cols);
// Variable-length UTF-8 strings.
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values);
void write_attr_string(hid_t loc, const std::string& name, const std::string& value);
void write_attr_int64(hid_t loc, const std::string& name, std::int64_t value);
Handle create_group(hid_t loc, const std::string& name);

// --- reading (each throws std::runtime_error naming the object on failure) ------------------
// Any rank, flattened, converted to native HDF5 type `type` (elements of elem_size bytes), into
// the memory that size_to(number of elements) returns.
void read_raw_vector(hid_t loc, const std::string& name, hid_t type, std::size_t elem_size,
                     const std::function<void*(std::size_t)>& size_to);
// The same into a vector (of any allocator) of T.
template <class T, class Alloc = std::allocator<T>>
std::vector<T, Alloc> read_vector(hid_t loc, const std::string& name) {
  std::vector<T, Alloc> out;
  read_raw_vector(loc, name, native_type<T>(), sizeof(T), [&out](std::size_t n) -> void* {
    out.resize(n);
    return out.data();
  });
  return out;
}
std::vector<std::string> read_strings(hid_t loc, const std::string& name);  // vlen or fixed-size
std::optional<std::string> read_attr_string(hid_t loc, const std::string& name);
std::optional<std::int64_t> read_attr_int64(hid_t loc, const std::string& name);

}  // namespace ratrace::h5
