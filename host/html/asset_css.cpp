// Stylesheets of the generated pages.
#include "html/assets.hpp"

namespace ratrace::html::assets {

extern const char kBaseCss[] = R"RATRACE_CSS(
:root {
  --ink: #1d1f24; --muted: #5f6470; --line: #e2e4ea; --panel: #f6f7f9; --accent: #3b5bdb;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: #fff;
}
* { box-sizing: border-box; }
body { margin: 0; font-size: 14px; line-height: 1.45; }
header.bar { padding: 12px 20px 10px; border-bottom: 1px solid var(--line); background: #fff; }
header.bar h1 { margin: 0 0 2px; font-size: 19px; font-weight: 650; letter-spacing: -0.01em; }
header.bar h1 .brand { color: var(--accent); }
header.bar .meta { color: var(--muted); }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
table.kv { border-collapse: collapse; }
table.kv th { text-align: left; font-weight: 500; color: var(--muted); padding: 2px 14px 2px 0; vertical-align: top; }
table.kv td { padding: 2px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -1px; margin-right: 6px; }
)RATRACE_CSS";

extern const char kSankeyCss[] = R"RATRACE_CSS(
html, body { height: 100%; }
body { display: flex; flex-direction: column; overflow: hidden; }
header.bar { display: flex; align-items: flex-end; gap: 24px; flex-wrap: wrap; }
header.bar .title { flex: 1 1 auto; min-width: 300px; }
.controls { display: flex; gap: 8px; align-items: center; color: var(--muted); font-size: 12.5px; }
.controls button { font: inherit; color: var(--ink); background: var(--panel); border: 1px solid var(--line);
  border-radius: 6px; padding: 4px 10px; cursor: pointer; }
.controls button:hover { border-color: #b8bdc9; }
main.sankey { flex: 1 1 auto; display: flex; min-height: 0; }
.canvas { flex: 1 1 auto; position: relative; min-width: 0; background: #fcfcfd; }
#sankey { width: 100%; height: 100%; display: block; cursor: grab; user-select: none; touch-action: none; }
#sankey.grabbing { cursor: grabbing; }
#sankey .link { fill: none; stroke-opacity: 0.5; transition: stroke-opacity 0.12s; }
#sankey .link:hover { stroke-opacity: 0.85; }
#sankey .link.highlighted { stroke-opacity: 0.92; }
#sankey .link.dimmed { stroke-opacity: 0.07; }
#sankey .node rect { fill: #3d4250; }
#sankey .node.target rect { fill: #d6336c; }
#sankey .node:hover rect { fill: var(--accent); }
#sankey .node.dimmed { opacity: 0.25; }
#sankey .node.highlighted rect { fill: #111; }
#sankey .node.target.highlighted rect { fill: #d6336c; }
#sankey .node text { font-size: 13px; fill: var(--ink); pointer-events: none; }
#sankey .node text.pos { font-size: 10.5px; fill: #8a8f9c; text-anchor: middle; }
#sankey .node.target text.token { font-weight: 700; fill: #b02357; }
#sankey.far .node text { display: none; }
aside.side { flex: 0 0 320px; border-left: 1px solid var(--line); background: var(--panel); overflow-y: auto;
  padding: 12px 16px 20px; }
aside.side h2 { font-size: 13px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted);
  margin: 14px 0 8px; font-weight: 600; }
aside.side h2:first-child { margin-top: 0; }
#beam-list { list-style: none; margin: 0; padding: 0; }
.beam-item { display: grid; grid-template-columns: 18px 34px 1fr; grid-template-rows: auto auto; column-gap: 2px;
  padding: 7px 8px; border-radius: 7px; cursor: pointer; border: 1px solid transparent; margin-bottom: 3px;
  background: #fff; }
.beam-item:hover { border-color: #c9cdd6; }
.beam-item .swatch { grid-row: 1; align-self: center; }
.beam-item .rank { font-weight: 650; }
.beam-item .weight { font-variant-numeric: tabular-nums; text-align: right; font-weight: 600; }
.beam-item .detail { grid-column: 2 / 4; color: var(--muted); font-size: 12px; }
.beam-item.highlighted { border-color: var(--ink); box-shadow: 0 1px 4px rgba(0,0,0,0.12); }
.beam-item.dimmed { opacity: 0.45; }
.note { color: var(--muted); font-size: 12px; margin: 10px 0 0; }
.tooltip { position: fixed; z-index: 10; max-width: 360px; background: rgba(24, 26, 32, 0.94); color: #f2f3f5;
  border-radius: 7px; padding: 8px 10px; font-size: 12.5px; pointer-events: none; box-shadow: 0 4px 14px rgba(0,0,0,0.25); }
.tooltip .tip-title { font-weight: 650; font-size: 14px; margin-bottom: 2px; white-space: pre; }
.tooltip table { border-collapse: collapse; margin-top: 4px; }
.tooltip th { color: #aab0bd; font-weight: 500; text-align: left; padding-right: 10px; }
.tooltip td { padding: 1px 10px 1px 0; font-variant-numeric: tabular-nums; }
)RATRACE_CSS";

extern const char kReportCss[] = R"RATRACE_CSS(
main.report { max-width: 1280px; margin: 0 auto; padding: 6px 24px 40px; }
main.report h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
main.report h3 { font-size: 15px; margin: 18px 0 6px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0 4px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.card .n { font-size: 20px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .what { color: var(--muted); font-size: 12px; }
.figure { overflow-x: auto; margin: 6px 0 4px; }
.figure svg { max-width: none; display: block; }
.caption { color: var(--muted); font-size: 12.5px; max-width: 900px; margin: 2px 0 10px; }
.job { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px 10px; margin: 10px 0; }
.job h3 { margin: 4px 0 6px; }
.job ol { margin: 0; padding-left: 22px; }
.job li { margin: 4px 0; }
.chain { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; word-break: break-word; }
.chain .tok { background: #eef1f8; border-radius: 4px; padding: 0 3px; }
.chain .tok.target { background: #fbe1ea; color: #a61e4d; font-weight: 650; }
.chain .arrow { color: #8a8f9c; padding: 0 3px; }
.chain .arrow sub { font-size: 10px; }
.chain .gap { color: #8a8f9c; }
.pathmeta { color: var(--muted); font-size: 12px; margin-left: 8px; }
.hint { color: var(--muted); font-size: 12px; }
)RATRACE_CSS";

}  // namespace ratrace::html::assets
