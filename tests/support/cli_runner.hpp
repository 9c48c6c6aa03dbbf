#pragma once
// Runs the built `ratrace` CLI (RATRACE_BINARY) in a shell and captures its exit code and output.
#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace ratrace::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `args` is appended to the binary path as shell text (quote paths yourself if they need it).
inline CliResult run_cli(const std::string& args) {
  TempDir scratch;
  const std::string out_file = scratch.file("stdout"), err_file = scratch.file("stderr");
  const std::string command =
      "'" + std::string(RATRACE_BINARY) + "' " + args + " </dev/null >'" + out_file + "' 2>'" + err_file + "'";
  const int status = std::system(command.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text_file(out_file);
  r.err = read_text_file(err_file);
  return r;
}

// Number of lines in a text (a final line without '\n' counts).
inline int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n + (!text.empty() && text.back() != '\n');
}

// Number of lines that contain `fragment`.
inline int count_matching_lines(const std::string& text, const std::string& fragment) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(fragment) != std::string::npos;
  return n;
}

}  // namespace ratrace::testing
