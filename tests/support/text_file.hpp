#pragma once
// Whole files as strings, for tests that write inputs or check outputs.
#include <fstream>
#include <sstream>
#include <string>

namespace ratrace::testing {

// The bytes of `path`; "" when it cannot be read.
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces `path` with `text`.
inline void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace ratrace::testing
