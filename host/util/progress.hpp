#pragma once
// Progress on stderr for long runs, only when stderr is a terminal (never in logs or pipes).
#include <chrono>
#include <cstdint>
#include <string>

#include "ratrace/engine.hpp"

namespace ratrace {

// A ProgressFn that redraws "label: done/total matrices (p%)" at most ~10 times a second and ends
// the line when done == total. Does nothing when stderr is not a terminal.
ProgressFn make_terminal_progress(std::string label);

}  // namespace ratrace
