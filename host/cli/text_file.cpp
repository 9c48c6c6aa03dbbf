#include "cli/text_file.hpp"

#include <fmt/format.h>

#include <fstream>

#include "ratrace/errors.hpp"

namespace ratrace::cli {

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw UsageError(fmt::format("cannot write '{}'", path));
  out << text;
  if (!out.flush()) throw UsageError(fmt::format("cannot write '{}'", path));
}

}  // namespace ratrace::cli
