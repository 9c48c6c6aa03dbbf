#pragma once
// Writing a command's file output (an HTML page, an SVG plot) in one go.
#include <string>

namespace ratrace::cli {

// Replaces `path` with `text`; throws UsageError "cannot write 'PATH'" if that fails.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace ratrace::cli
