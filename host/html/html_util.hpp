#pragma once
// Small text helpers shared by the HTML pages and SVG charts.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace ratrace::html {

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string escape(std::string_view text);

// JSON text safe inside <script type="application/json">: every '<' becomes \u003c, so no
// "</script>" or "<!--" can end the block early. Invalid UTF-8 is replaced, never thrown on.
std::string json_for_script(const nlohmann::json& value);

// A number for SVG attributes: at most 2 decimals, no trailing zeros ("12.5", "3").
std::string num(double value);

// A whole self-contained page: <!doctype html>, <meta charset>, title, inline CSS, body.
std::string page(std::string_view title, std::string_view css, std::string_view body);

}  // namespace ratrace::html
