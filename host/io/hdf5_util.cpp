#include "io/hdf5_util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "io/chunk_codec.hpp"

namespace ratrace::h5 {

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

bool exists(hid_t loc, const std::string& path) {
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

std::vector<hsize_t> dims(hid_t dataset) {
  Handle space = space_handle(H5Dget_space(dataset));
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw std::runtime_error("cannot read a dataspace");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return d;
}

std::vector<Filter> filters(hid_t dcpl) {
  std::vector<Filter> pipeline;
  const int count = H5Pget_nfilters(dcpl);
  for (int f = 0; f < count; ++f) {
    unsigned flags = 0, config = 0;
    std::size_t num_values = 8;
    unsigned values[8] = {};
    char name[64] = {};
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl, static_cast<unsigned>(f), &flags, &num_values, values, sizeof name, name, &config);
    pipeline.push_back(Filter{id, std::vector<unsigned>(values, values + std::min<std::size_t>(num_values, 8)), name});
  }
  return pipeline;
}

namespace {

Handle create_dataset(hid_t loc, const std::string& name, hid_t type, const std::vector<hsize_t>& shape) {
  Handle space = space_handle(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr));
  Handle dcpl = plist_handle(H5Pcreate(H5P_DATASET_CREATE));
  hsize_t total = 1;
  for (hsize_t d : shape) total *= d;
  // Compress the big arrays (paths and nodes); small ones stay contiguous for easy reading.
  if (total >= 4096 && shape[0] > 0) {
    std::vector<hsize_t> chunk = shape;
    hsize_t per_row = total / shape[0];
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(shape[0], (1u << 16) / std::max<hsize_t>(per_row, 1)));
    if (H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()) < 0 || H5Pset_shuffle(dcpl) < 0 ||
        H5Pset_deflate(dcpl, kResultsDeflateLevel) < 0)
      throw std::runtime_error(fmt::format("cannot set chunks, shuffle and deflate for dataset '{}'", name));
  }
  Handle ds = dataset_handle(H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!ds.valid()) throw std::runtime_error(fmt::format("cannot create dataset '{}'", name));
  return ds;
}

}  // namespace

void write_raw_vector(hid_t loc, const std::string& name, hid_t type, const void* data, hsize_t n) {
  Handle ds = create_dataset(loc, name, type, {n});
  if (n > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw std::runtime_error(fmt::format("cannot write dataset '{}'", name));
}

Handle create_growable_vector(hid_t loc, const std::string& name, hid_t type, hsize_t chunk_elems, int level) {
  const hsize_t initial = 0, unlimited = H5S_UNLIMITED;
  Handle space = space_handle(H5Screate_simple(1, &initial, &unlimited));
  Handle dcpl = plist_handle(H5Pcreate(H5P_DATASET_CREATE));
  // Filter 0 shuffle, filter 1 deflate: the pipeline that write_filtered_chunk's chunks were
  // encoded for (filter mask 0), so a refused filter must fail here, not make unreadable chunks.
  if (H5Pset_chunk(dcpl, 1, &chunk_elems) < 0 || H5Pset_shuffle(dcpl) < 0 ||
      H5Pset_deflate(dcpl, static_cast<unsigned>(level)) < 0)
    throw std::runtime_error(fmt::format("cannot set chunks, shuffle and deflate (level {}) for dataset '{}'", level, name));
  Handle ds = dataset_handle(H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!ds.valid()) throw std::runtime_error(fmt::format("cannot create dataset '{}'", name));
  return ds;
}

// "FILE:/DATASET", for messages about a dataset being written.
static std::string dataset_label(hid_t dataset) {
  char file[4096] = "?", name[1024] = "?";
  H5Fget_name(dataset, file, sizeof(file));
  H5Iget_name(dataset, name, sizeof(name));
  return fmt::format("{}:{}", file, name);
}

void set_length(hid_t dataset, hsize_t n) {
  if (H5Dset_extent(dataset, &n) < 0)
    throw std::runtime_error(fmt::format("cannot extend {} to {} values", dataset_label(dataset), n));
}

void write_filtered_chunk(hid_t dataset, hsize_t first, const std::vector<unsigned char>& encoded) {
  // Filter mask 0: every filter of the pipeline (shuffle, deflate) was applied.
  if (H5Dwrite_chunk(dataset, H5P_DEFAULT, 0, &first, encoded.size(), encoded.data()) < 0)
    throw std::runtime_error(
        fmt::format("cannot write {} at value {} (disk full or over a file size limit?)", dataset_label(dataset), first));
}

template <class T>
void write_matrix(hid_t loc, const std::string& name, const T* data, hsize_t rows, hsize_t cols) {
  Handle ds = create_dataset(loc, name, native_type<T>(), {rows, cols});
  if (rows * cols > 0 && H5Dwrite(ds, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw std::runtime_error(fmt::format("cannot write dataset '{}'", name));
}

static Handle vlen_utf8_type() {
  Handle type = type_handle(H5Tcopy(H5T_C_S1));
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  Handle type = vlen_utf8_type();
  Handle ds = create_dataset(loc, name, type, {values.size()});
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!values.empty() && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    throw std::runtime_error(fmt::format("cannot write dataset '{}'", name));
}

void write_attr_string(hid_t loc, const std::string& name, const std::string& value) {
  Handle type = vlen_utf8_type();
  Handle space = space_handle(H5Screate(H5S_SCALAR));
  Handle attr = attr_handle(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  const char* ptr = value.c_str();
  if (!attr.valid() || H5Awrite(attr, type, &ptr) < 0)
    throw std::runtime_error(fmt::format("cannot write attribute '{}'", name));
}

void write_attr_int64(hid_t loc, const std::string& name, std::int64_t value) {
  Handle space = space_handle(H5Screate(H5S_SCALAR));
  Handle attr = attr_handle(H5Acreate2(loc, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr, H5T_NATIVE_INT64, &value) < 0)
    throw std::runtime_error(fmt::format("cannot write attribute '{}'", name));
}

Handle create_group(hid_t loc, const std::string& name) {
  Handle g = group_handle(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) throw std::runtime_error(fmt::format("cannot create group '{}'", name));
  return g;
}

void read_raw_vector(hid_t loc, const std::string& name, hid_t type, std::size_t elem_size,
                     const std::function<void*(std::size_t)>& size_to) {
  Handle ds = dataset_handle(H5Dopen2(loc, name.c_str(), H5P_DEFAULT));
  if (!ds.valid()) throw std::runtime_error(fmt::format("missing dataset '{}'", name));
  hsize_t total = 1;
  for (hsize_t d : dims(ds)) total *= d;
  void* out = size_to(static_cast<std::size_t>(total));
  if (total > 0 && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw std::runtime_error(fmt::format("cannot read dataset '{}' as {}", name, elem_size * 8));
}

std::vector<std::string> read_strings(hid_t loc, const std::string& name) {
  Handle ds = dataset_handle(H5Dopen2(loc, name.c_str(), H5P_DEFAULT));
  if (!ds.valid()) throw std::runtime_error(fmt::format("missing dataset '{}'", name));
  Handle ftype = type_handle(H5Dget_type(ds));
  if (H5Tget_class(ftype) != H5T_STRING) throw std::runtime_error(fmt::format("dataset '{}' does not hold strings", name));
  hsize_t total = 1;
  for (hsize_t d : dims(ds)) total *= d;
  std::vector<std::string> out(total);
  if (total == 0) return out;
  if (H5Tis_variable_str(ftype) > 0) {
    Handle mtype = type_handle(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    std::vector<char*> ptrs(total, nullptr);
    if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
      throw std::runtime_error(fmt::format("cannot read strings of '{}'", name));
    for (hsize_t i = 0; i < total; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
    Handle space = space_handle(H5Dget_space(ds));
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t size = H5Tget_size(ftype);
    std::vector<char> buf(total * size);
    Handle mtype = type_handle(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype, size);
    H5Tset_strpad(mtype, H5Tget_strpad(ftype));
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
      throw std::runtime_error(fmt::format("cannot read strings of '{}'", name));
    for (hsize_t i = 0; i < total; ++i) {
      const char* s = buf.data() + i * size;
      out[i].assign(s, strnlen(s, size));
    }
  }
  return out;
}

std::optional<std::string> read_attr_string(hid_t loc, const std::string& name) {
  if (H5Aexists(loc, name.c_str()) <= 0) return std::nullopt;
  Handle attr = attr_handle(H5Aopen(loc, name.c_str(), H5P_DEFAULT));
  Handle ftype = type_handle(H5Aget_type(attr));
  if (H5Tget_class(ftype) != H5T_STRING) return std::nullopt;
  if (H5Tis_variable_str(ftype) > 0) {
    Handle mtype = type_handle(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    char* ptr = nullptr;
    if (H5Aread(attr, mtype, &ptr) < 0) return std::nullopt;
    std::string out = ptr ? ptr : "";
    H5free_memory(ptr);
    return out;
  }
  const std::size_t size = H5Tget_size(ftype);
  std::vector<char> buf(size + 1, '\0');
  if (H5Aread(attr, ftype, buf.data()) < 0) return std::nullopt;
  return std::string(buf.data(), strnlen(buf.data(), size));
}

std::optional<std::int64_t> read_attr_int64(hid_t loc, const std::string& name) {
  if (H5Aexists(loc, name.c_str()) <= 0) return std::nullopt;
  Handle attr = attr_handle(H5Aopen(loc, name.c_str(), H5P_DEFAULT));
  Handle ftype = type_handle(H5Aget_type(attr));
  const H5T_class_t cls = H5Tget_class(ftype);
  if (cls != H5T_INTEGER && cls != H5T_ENUM) return std::nullopt;
  std::int64_t v = 0;
  if (H5Aread(attr, H5T_NATIVE_INT64, &v) < 0) return std::nullopt;
  return v;
}

#define RATRACE_H5_INSTANTIATE(T) template void write_matrix<T>(hid_t, const std::string&, const T*, hsize_t, hsize_t);
RATRACE_H5_INSTANTIATE(float)
RATRACE_H5_INSTANTIATE(double)
RATRACE_H5_INSTANTIATE(std::int8_t)
RATRACE_H5_INSTANTIATE(std::uint8_t)
RATRACE_H5_INSTANTIATE(std::int16_t)
RATRACE_H5_INSTANTIATE(std::uint16_t)
RATRACE_H5_INSTANTIATE(std::int32_t)
RATRACE_H5_INSTANTIATE(std::uint32_t)
RATRACE_H5_INSTANTIATE(std::int64_t)
RATRACE_H5_INSTANTIATE(std::uint64_t)
#undef RATRACE_H5_INSTANTIATE

}  // namespace ratrace::h5
