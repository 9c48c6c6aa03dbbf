#include "ratrace/selection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "ratrace/errors.hpp"
#include "ratrace/params.hpp"

namespace ratrace {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<long long> parse_int(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  long long v = 0;
  const char* begin = s.data();
  if (*begin == '+') ++begin;
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

// One parsed item of a selection.
struct Item {
  enum Kind { all, index, slice, mean, max } kind = all;
  long long value = 0;                         // index
  std::optional<long long> start, stop, step;  // slice
};

[[noreturn]] void bad_item(std::string_view option, std::string_view sel, std::string_view item, bool heads) {
  throw UsageError(fmt::format("{} '{}': '{}' is not an integer, a slice (a:b:step){} or 'all'", option, sel,
                               item, heads ? ", 'mean', 'max'" : ""));
}

std::vector<Item> parse_items(std::string_view sel, bool allow_aggregates, std::string_view option) {
  std::vector<Item> items;
  for (std::string_view raw : split(sel, ',')) {
    const std::string_view item = trim(raw);
    if (item == "all") {
      items.push_back({Item::all});
    } else if (allow_aggregates && item == "mean") {
      items.push_back({Item::mean});
    } else if (allow_aggregates && item == "max") {
      items.push_back({Item::max});
    } else if (item.find(':') != std::string_view::npos) {
      const auto fields = split(item, ':');
      if (fields.size() > 3) bad_item(option, sel, item, allow_aggregates);
      Item it{Item::slice};
      std::optional<long long>* slots[3] = {&it.start, &it.stop, &it.step};
      for (std::size_t f = 0; f < fields.size(); ++f) {
        if (trim(fields[f]).empty()) continue;  // omitted end
        const auto v = parse_int(fields[f]);
        if (!v) bad_item(option, sel, item, allow_aggregates);
        *slots[f] = *v;
      }
      if (it.step && *it.step == 0) throw UsageError(fmt::format("{} '{}': slice step cannot be zero", option, sel));
      items.push_back(it);
    } else if (const auto v = parse_int(item)) {
      items.push_back({Item::index, *v});
    } else {
      bad_item(option, sel, item, allow_aggregates);
    }
  }
  return items;
}

// Python's slice.indices(n), then range(start, stop, step).
void expand_slice(const Item& it, long long n, std::vector<long long>& out) {
  const long long step = it.step.value_or(1);
  const long long lower = step > 0 ? 0 : -1;
  const long long upper = step > 0 ? n : n - 1;
  auto clamp = [&](std::optional<long long> v, long long fallback) {
    if (!v) return fallback;
    long long x = *v;
    if (x < 0) {
      x += n;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  const long long start = clamp(it.start, step > 0 ? lower : upper);
  const long long stop = clamp(it.stop, step > 0 ? upper : lower);
  if (step > 0)
    for (long long i = start; i < stop; i += step) out.push_back(i);
  else
    for (long long i = start; i > stop; i += step) out.push_back(i);
}

std::vector<int> resolve(std::string_view sel, int n, std::string_view option, std::string_view context,
                         bool allow_aggregates) {
  std::vector<long long> picked;
  for (const Item& it : parse_items(sel, allow_aggregates, option)) {
    switch (it.kind) {
      case Item::all:
        for (long long i = 0; i < n; ++i) picked.push_back(i);
        break;
      case Item::mean: picked.push_back(kHeadMean); break;
      case Item::max: picked.push_back(kHeadMax); break;
      case Item::slice: expand_slice(it, n, picked); break;
      case Item::index:
        if (it.value < -static_cast<long long>(n) || it.value >= n)
          throw UsageError(fmt::format("{} '{}': {} is out of range: {} (valid {}..{})", option, sel, it.value,
                                       context, -static_cast<long long>(n), static_cast<long long>(n) - 1));
        picked.push_back(it.value < 0 ? it.value + n : it.value);
        break;
    }
  }
  std::vector<int> out;
  for (long long v : picked)
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(static_cast<int>(v));
  return out;
}

}  // namespace

std::vector<int> resolve_selection(std::string_view sel, int n, std::string_view option, std::string_view context) {
  return resolve(sel, n, option, context, false);
}

std::vector<int> resolve_head_selection(std::string_view sel, int num_heads, std::string_view option,
                                        std::string_view context) {
  return resolve(sel, num_heads, option, context, true);
}

void check_selection_syntax(std::string_view sel, bool allow_aggregates, std::string_view option) {
  parse_items(sel, allow_aggregates, option);
}

}  // namespace ratrace
