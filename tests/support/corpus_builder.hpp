#pragma once
// A builder that writes arbitrary, possibly MALFORMED corpora (SPEC §4) with the raw HDF5 C API,
// independent of the code under test. (TempDir comes from support/temp_dir.hpp.)
//
//   TempDir dir;
//   CorpusBuilder b(dir.file("in.h5"));
//   b.attr_int("bos_token_id", 1).attr_string("model", "tiny");
//   b.sequence("s0").attention_f32({1, 2, 3, 3}, values).token_ids({1, 5, 6}).tokens({"<s>", "a", "b"});
//   b.dataset_raw("sequences/s1/attention", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 1, 2, 2}, ints.data());
//   b.close();  // or let it go out of scope
//
// Every failure throws std::runtime_error naming the object: a test that builds a bad corpus
// should fail loudly if the builder itself could not write it.
#include <hdf5.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"

namespace ratrace::testing {

namespace builder_detail {

inline void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("CorpusBuilder: cannot " + what);
}

// Owns one hid_t; closes it with the given function.
class Id {
 public:
  Id(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      if (id_ >= 0) closer_(id_);
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Id() {
    if (id_ >= 0) closer_(id_);
  }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*closer_)(hid_t);
};

// IEEE binary16, little endian (what h5py writes for numpy float16).
inline Id half_type() {
  Id t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  check(H5Tset_fields(t, 15, 10, 5, 0, 10) >= 0 && H5Tset_size(t, 2) >= 0 && H5Tset_precision(t, 16) >= 0 &&
            H5Tset_ebias(t, 15) >= 0,
        "make a float16 type");
  return t;
}

inline Id vlen_utf8_type() {
  Id t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// h5py's bool: an enum over int8 with FALSE = 0, TRUE = 1.
inline Id bool_type() {
  Id t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  std::int8_t no = 0, yes = 1;
  H5Tenum_insert(t, "FALSE", &no);
  H5Tenum_insert(t, "TRUE", &yes);
  return t;
}

inline void write_string_attr(hid_t loc, const std::string& name, const std::string& value) {
  Id type = vlen_utf8_type();
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id attr(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const char* ptr = value.c_str();
  check(attr.valid() && H5Awrite(attr, type, &ptr) >= 0, "write attribute " + name);
}

}  // namespace builder_detail

class CorpusBuilder;

// Datasets of one /sequences/NAME group. Methods chain; each writes its dataset at once.
class SequenceBuilder {
 public:
  using Dims = std::vector<hsize_t>;
  SequenceBuilder(CorpusBuilder& corpus, std::string group) : corpus_(corpus), group_(std::move(group)) {}

  // `chunk` empty: contiguous; else chunk dims (and deflate level > 0 to compress).
  SequenceBuilder& attention_f32(const Dims& dims, const std::vector<float>& data, const Dims& chunk = {},
                                 int deflate = 0);
  SequenceBuilder& attention_f64(const Dims& dims, const std::vector<double>& data, const Dims& chunk = {},
                                 int deflate = 0);
  // Raw IEEE half bits, stored as a float16 dataset.
  SequenceBuilder& attention_f16_bits(const Dims& dims, const std::vector<std::uint16_t>& bits,
                                      const Dims& chunk = {}, int deflate = 0);
  // Raw bfloat16 bits as uint16; `tag` is the dtype attribute ("" writes none).
  SequenceBuilder& attention_bf16_bits(const Dims& dims, const std::vector<std::uint16_t>& bits,
                                       const std::string& tag = "bfloat16");
  SequenceBuilder& token_ids(const std::vector<std::int64_t>& ids);
  SequenceBuilder& tokens(const std::vector<std::string>& words);  // variable-length UTF-8
  SequenceBuilder& tokens_fixed(const std::vector<std::string>& words, std::size_t width);  // fixed ASCII
  SequenceBuilder& mask(const std::vector<std::int8_t>& values);  // int8 0/1 (or anything, to break it)
  SequenceBuilder& mask_bool(const std::vector<std::uint8_t>& values);  // h5py-style bool enum

  std::string path(const std::string& dataset) const { return group_ + "/" + dataset; }

 private:
  CorpusBuilder& corpus_;
  std::string group_;
};

class CorpusBuilder {
 public:
  using Dims = std::vector<hsize_t>;

  // Creates (truncates) the file.
  explicit CorpusBuilder(const std::string& path) : file_(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose) {
    builder_detail::check(file_.valid(), "create " + path);
  }
  ~CorpusBuilder() = default;
  CorpusBuilder(const CorpusBuilder&) = delete;
  CorpusBuilder& operator=(const CorpusBuilder&) = delete;

  // Flushes and closes the file (also done by the destructor).
  void close() { file_ = builder_detail::Id(H5I_INVALID_HID, H5Fclose); }

  // Root attributes. `file_type` picks the stored integer type (any integer type is valid).
  CorpusBuilder& attr_int(const std::string& name, std::int64_t value, hid_t file_type = H5T_STD_I64LE) {
    return attr_raw("/", name, file_type, H5T_NATIVE_INT64, &value);
  }
  CorpusBuilder& attr_string(const std::string& name, const std::string& value) {
    return attr_string_on("/", name, value);
  }
  // An attribute on any object ("/", "sequences/s0/attention", ...).
  CorpusBuilder& attr_string_on(const std::string& object, const std::string& name, const std::string& value) {
    builder_detail::Id obj(H5Oopen(file_, object.c_str(), H5P_DEFAULT), H5Oclose);
    builder_detail::check(obj.valid(), "open " + object);
    builder_detail::write_string_attr(obj, name, value);
    return *this;
  }
  CorpusBuilder& attr_raw(const std::string& object, const std::string& name, hid_t file_type, hid_t memory_type,
                          const void* value) {
    builder_detail::Id obj(H5Oopen(file_, object.c_str(), H5P_DEFAULT), H5Oclose);
    builder_detail::Id space(H5Screate(H5S_SCALAR), H5Sclose);
    builder_detail::Id attr(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    builder_detail::check(obj.valid() && attr.valid() && H5Awrite(attr, memory_type, value) >= 0,
                          "write attribute " + object + " " + name);
    return *this;
  }

  // A group and any missing parents ("sequences", "sequences/s0").
  CorpusBuilder& group(const std::string& path) {
    builder_detail::Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl, 1);
    if (exists(path)) return *this;
    builder_detail::Id g(H5Gcreate2(file_, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    builder_detail::check(g.valid(), "create group " + path);
    return *this;
  }

  // /sequences/NAME, created now; add its datasets through the returned builder.
  SequenceBuilder sequence(const std::string& name) {
    group("sequences/" + name);
    return SequenceBuilder(*this, "sequences/" + name);
  }

  // Any dataset of any type and shape (parents created). `data` holds the elements in
  // `memory_type`; nullptr writes nothing (HDF5's fill value).
  CorpusBuilder& dataset_raw(const std::string& path, hid_t file_type, hid_t memory_type, const Dims& dims,
                             const void* data, const Dims& chunk = {}, int deflate = 0) {
    builder_detail::Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl, 1);
    builder_detail::Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (!chunk.empty()) {
      builder_detail::check(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()) >= 0, "chunk " + path);
      if (deflate > 0) H5Pset_deflate(dcpl, static_cast<unsigned>(deflate));
    }
    builder_detail::Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                                          : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                             H5Sclose);
    builder_detail::Id ds(H5Dcreate2(file_, path.c_str(), file_type, space, lcpl, dcpl, H5P_DEFAULT), H5Dclose);
    builder_detail::check(ds.valid(), "create dataset " + path);
    hsize_t total = 1;
    for (hsize_t d : dims) total *= d;
    if (data != nullptr && total > 0)
      builder_detail::check(H5Dwrite(ds, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, "write " + path);
    return *this;
  }

  template <class T>
  CorpusBuilder& dataset(const std::string& path, hid_t file_type, hid_t memory_type, const Dims& dims,
                         const std::vector<T>& data, const Dims& chunk = {}, int deflate = 0) {
    hsize_t total = 1;
    for (hsize_t d : dims) total *= d;
    builder_detail::check(data.size() == total, "write " + path + ": data size does not match dims");
    return dataset_raw(path, file_type, memory_type, dims, data.data(), chunk, deflate);
  }

  CorpusBuilder& strings(const std::string& path, const std::vector<std::string>& values) {
    builder_detail::Id type = builder_detail::vlen_utf8_type();
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    return dataset_raw(path, type, type, {values.size()}, ptrs.data());
  }

  hid_t file() const { return file_; }

  // Whether a link exists at `path`, checking each parent first (HDF5 complains otherwise).
  bool exists(const std::string& path) const {
    for (std::size_t slash = path.find('/'); ; slash = path.find('/', slash + 1)) {
      const std::string prefix = path.substr(0, slash);
      if (!prefix.empty() && H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash == std::string::npos) return true;
    }
  }

 private:
  builder_detail::Id file_;
};

inline SequenceBuilder& SequenceBuilder::attention_f32(const Dims& dims, const std::vector<float>& data,
                                                       const Dims& chunk, int deflate) {
  corpus_.dataset(path("attention"), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, dims, data, chunk, deflate);
  return *this;
}

inline SequenceBuilder& SequenceBuilder::attention_f64(const Dims& dims, const std::vector<double>& data,
                                                       const Dims& chunk, int deflate) {
  corpus_.dataset(path("attention"), H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims, data, chunk, deflate);
  return *this;
}

inline SequenceBuilder& SequenceBuilder::attention_f16_bits(const Dims& dims, const std::vector<std::uint16_t>& bits,
                                                            const Dims& chunk, int deflate) {
  builder_detail::Id half = builder_detail::half_type();
  // Memory type = the same half type in native order (little endian here): the bits go as they are.
  corpus_.dataset(path("attention"), half, half, dims, bits, chunk, deflate);
  return *this;
}

inline SequenceBuilder& SequenceBuilder::attention_bf16_bits(const Dims& dims, const std::vector<std::uint16_t>& bits,
                                                             const std::string& tag) {
  corpus_.dataset(path("attention"), H5T_STD_U16LE, H5T_NATIVE_UINT16, dims, bits);
  if (!tag.empty()) corpus_.attr_string_on(path("attention"), "dtype", tag);
  return *this;
}

inline SequenceBuilder& SequenceBuilder::token_ids(const std::vector<std::int64_t>& ids) {
  corpus_.dataset(path("token_ids"), H5T_STD_I64LE, H5T_NATIVE_INT64, {ids.size()}, ids);
  return *this;
}

inline SequenceBuilder& SequenceBuilder::tokens(const std::vector<std::string>& words) {
  corpus_.strings(path("tokens"), words);
  return *this;
}

inline SequenceBuilder& SequenceBuilder::tokens_fixed(const std::vector<std::string>& words, std::size_t width) {
  builder_detail::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, width);
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  std::vector<char> buf(words.size() * width, '\0');
  for (std::size_t i = 0; i < words.size(); ++i) words[i].copy(buf.data() + i * width, width);
  corpus_.dataset_raw(path("tokens"), type, type, {words.size()}, buf.data());
  return *this;
}

inline SequenceBuilder& SequenceBuilder::mask(const std::vector<std::int8_t>& values) {
  corpus_.dataset(path("attention_mask"), H5T_STD_I8LE, H5T_NATIVE_INT8, {values.size()}, values);
  return *this;
}

inline SequenceBuilder& SequenceBuilder::mask_bool(const std::vector<std::uint8_t>& values) {
  builder_detail::Id type = builder_detail::bool_type();
  corpus_.dataset(path("attention_mask"), type, type, {values.size()}, values);
  return *this;
}

}  // namespace ratrace::testing
