#pragma once
#include <stdexcept>
#include <string>

namespace ratrace {

// Exit codes of SPEC §7.
enum ExitCode : int {
  kExitOk = 0,
  kExitMismatch = 1,    // `verify` found a real mismatch
  kExitBadInput = 2,    // bad input or usage, including "no usable GPU" for --device gpu / verify
  kExitInternal = 3,    // unexpected failure
};

// Bad input data: missing file or dataset, wrong shape, NaN weights, ... (exit 2).
// The message names the file, dataset, shape or value at fault.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bad command-line usage: selection syntax, parameter out of range, no GPU for --device gpu (exit 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ratrace
