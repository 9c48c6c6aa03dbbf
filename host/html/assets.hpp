#pragma once
// Stylesheets and scripts inlined into the generated pages (each in its own asset_*.cpp file, as
// a raw string), so that every page is one self-contained file with no network access.
namespace ratrace::html::assets {

extern const char kBaseCss[];    // typography, header bar, tables (every page)
extern const char kSankeyCss[];  // the Sankey page
extern const char kSankeyJs[];   // the Sankey page's layout and interaction
extern const char kReportCss[];  // the report page

}  // namespace ratrace::html::assets
