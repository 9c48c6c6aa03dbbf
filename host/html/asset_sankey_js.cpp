// The Sankey page's script (plain ES2017, no libraries): lays out the job's paths from the JSON
// block #ratrace-data, draws them as SVG, and wires hover tooltips, beam highlighting and
// zoom / pan (a viewBox transform). Test hooks: svg .node[data-pos], svg .link[data-beam],
// .beam-item[data-beam], classes highlighted / dimmed, and window.ratraceReady once drawn.
#include "html/assets.hpp"

namespace ratrace::html::assets {

extern const char kSankeyJs[] = R"RATRACE_JS(
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('ratrace-data').textContent);
  var svg = document.getElementById('sankey');
  var tooltip = document.getElementById('tooltip');
  var beamList = document.getElementById('beam-list');

  // Layout constants, in SVG user units (1 unit = 1 px at zoom 1).
  var DX = 64;          // horizontal step between consecutive nodes (sequence order)
  var NODE_W = 12;
  var LANE = 70;        // vertical distance between beam lanes
  var MAX_LINK = 30;    // width of the heaviest link
  var MIN_LINK = 1.5;
  var MIN_NODE = 10;

  var beams = data.beams;
  var nodes = data.nodes;  // sorted by position
  var PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
                 '#9c755f', '#bab0ac'];
  function beamColour(r) {
    return r < PALETTE.length ? PALETTE[r] : 'hsl(' + ((37 + 137.508 * r) % 360).toFixed(0) + ',55%,48%)';
  }
  // Lane of beam r: the best beam in the middle, the others alternately above and below.
  function lane(r) { return r === 0 ? 0 : (r % 2 === 1 ? -(r + 1) / 2 : r / 2); }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function shownToken(node) {
    if (node.token === null || node.token === undefined) return 'pos ' + node.pos;
    var t = node.token.replace(/\n/g, '\u23ce').replace(/\t/g, '\u21e5');
    if (t.trim() === '') t = t.replace(/ /g, '\u2423');
    return t;
  }
  function label(node) {
    var t = shownToken(node);
    return t.length > 16 ? t.slice(0, 15) + '\u2026' : t;
  }
  function fmt(x, digits) { return x === null || x === undefined ? '\u2013' : Number(x).toFixed(digits); }

  // --- layout -------------------------------------------------------------------------------
  var index = {};
  nodes.forEach(function (n, i) {
    index[n.pos] = i;
    n.i = i;
    n.beams = [];
    n.inLinks = [];   // links from earlier tokens (drawn on the node's left side)
    n.outLinks = [];  // links to later tokens (right side)
  });
  var links = [];
  var maxValue = 0;
  beams.forEach(function (b) {
    b.positions.forEach(function (p) {
      var n = nodes[index[p]];
      if (n.beams.indexOf(b.rank) < 0) n.beams.push(b.rank);
    });
    // A path is stored target first; information flows from the earlier token to the later one.
    for (var k = 0; k + 1 < b.positions.length; ++k) {
      var attn = b.attn[k + 1];
      var link = {beam: b.rank, later: nodes[index[b.positions[k]]], earlier: nodes[index[b.positions[k + 1]]],
                  attn: attn, value: b.weight * (attn === null ? 0 : attn)};
      maxValue = Math.max(maxValue, link.value);
      links.push(link);
    }
  });
  links.forEach(function (l) {
    l.width = Math.max(MIN_LINK, maxValue > 0 ? l.value / maxValue * MAX_LINK : MIN_LINK);
    l.earlier.outLinks.push(l);
    l.later.inLinks.push(l);
  });
  nodes.forEach(function (n) {
    var laneSum = 0;
    n.beams.forEach(function (r) { laneSum += lane(r); });
    n.x = n.i * DX;
    n.y = (n.beams.length ? laneSum / n.beams.length : 0) * LANE;
    var inW = 0, outW = 0;
    n.inLinks.forEach(function (l) { inW += l.width; });
    n.outLinks.forEach(function (l) { outW += l.width; });
    n.h = Math.max(MIN_NODE, inW, outW);
  });
  // Each side's links are stacked top to bottom by the height of their other end, like a Sankey.
  // This needs every node's y, so it runs after all of them are placed.
  function stack(n, list, other, key) {
    list.sort(function (a, b) { return a[other].y - b[other].y || a.beam - b.beam; });
    var total = 0;
    list.forEach(function (l) { total += l.width; });
    var y = n.y - total / 2;
    list.forEach(function (l) { l[key] = y + l.width / 2; y += l.width; });
  }
  nodes.forEach(function (n) {
    stack(n, n.outLinks, 'later', 'y0');
    stack(n, n.inLinks, 'earlier', 'y1');
  });

  var minY = 0, maxY = 0;
  nodes.forEach(function (n) { minY = Math.min(minY, n.y - n.h / 2); maxY = Math.max(maxY, n.y + n.h / 2); });
  links.forEach(function (l) {
    var x0 = l.earlier.x + NODE_W, x1 = l.later.x;
    var gap = l.later.i - l.earlier.i;
    if (gap <= 1) {
      var mx = (x0 + x1) / 2;
      l.d = 'M' + x0 + ' ' + l.y0 + 'C' + mx + ' ' + l.y0 + ' ' + mx + ' ' + l.y1 + ' ' + x1 + ' ' + l.y1;
    } else {
      // Links that skip nodes arc above (lanes <= 0) or below the row, higher the farther they reach.
      var lift = Math.min(36 + 16 * gap, 300) * (lane(l.beam) > 0 ? 1 : -1);
      var k = Math.min((x1 - x0) * 0.3, 240);
      l.d = 'M' + x0 + ' ' + l.y0 + 'C' + (x0 + k) + ' ' + (l.y0 + lift) + ' ' + (x1 - k) + ' ' + (l.y1 + lift) +
            ' ' + x1 + ' ' + l.y1;
      var peak = Math.max(l.y0, l.y1) * 0.25 + Math.min(l.y0, l.y1) * 0.25 + 0.75 * lift;
      minY = Math.min(minY, peak - l.width);
      maxY = Math.max(maxY, peak + l.width);
    }
  });
  var bounds = {x: -40, y: minY - 110, w: (nodes.length - 1) * DX + NODE_W + 80, h: maxY - minY + 150};

  // --- drawing: one element per link, one group per node -----------------------------------
  var parts = ['<g class="links">'];
  links.forEach(function (l, i) {
    parts.push('<path class="link" data-link="' + i + '" data-beam="' + l.beam + '" d="' + l.d +
               '" stroke="' + beamColour(l.beam) + '" stroke-width="' + l.width.toFixed(2) + '"/>');
  });
  parts.push('</g><g class="nodes">');
  var target = beams.length ? beams[0].positions[0] : -1;
  nodes.forEach(function (n) {
    var cls = 'node' + (n.pos === target ? ' target' : '');
    var top = n.y - n.h / 2;
    parts.push('<g class="' + cls + '" data-pos="' + n.pos + '" transform="translate(' + n.x + ',' + top + ')">' +
               '<rect width="' + NODE_W + '" height="' + n.h.toFixed(2) + '" rx="2"/>' +
               '<text class="token" transform="translate(' + (NODE_W / 2) + ',-8) rotate(-40)">' + esc(label(n)) +
               '</text><text class="pos" x="' + (NODE_W / 2) + '" y="' + (n.h + 15).toFixed(2) + '">' + n.pos +
               '</text></g>');
  });
  parts.push('</g>');
  svg.innerHTML = parts.join('');

  // --- the beam list ------------------------------------------------------------------------
  var items = beams.map(function (b) {
    var first = nodes[index[b.positions[b.positions.length - 1]]];
    var hops = b.positions.length - 1;
    return '<li class="beam-item" data-beam="' + b.rank + '" tabindex="0" title="click to highlight this path">' +
           '<span class="swatch" style="background:' + beamColour(b.rank) + '"></span>' +
           '<span class="rank">#' + b.rank + '</span>' +
           '<span class="weight">' + (100 * b.weight).toFixed(1) + '%</span>' +
           '<span class="detail">score ' + fmt(b.score_norm, 3) + ' \u00b7 ' + hops + (hops === 1 ? ' hop' : ' hops') +
           ' \u00b7 from ' + esc(label(first)) + ' (' + first.pos + ')</span></li>';
  });
  beamList.innerHTML = items.join('');

  // --- highlighting -------------------------------------------------------------------------
  var selected = null;
  var linkEls = svg.querySelectorAll('.link');
  var nodeEls = svg.querySelectorAll('.node');
  var itemEls = beamList.querySelectorAll('.beam-item');
  function select(rank) {
    selected = rank === selected ? null : rank;
    var on = selected !== null;
    linkEls.forEach(function (el) {
      var mine = Number(el.getAttribute('data-beam')) === selected;
      el.classList.toggle('highlighted', on && mine);
      el.classList.toggle('dimmed', on && !mine);
    });
    var inBeam = {};
    if (on) beams[selected].positions.forEach(function (p) { inBeam[p] = true; });
    nodeEls.forEach(function (el) {
      var mine = !!inBeam[el.getAttribute('data-pos')];
      el.classList.toggle('highlighted', on && mine);
      el.classList.toggle('dimmed', on && !mine);
    });
    itemEls.forEach(function (el) {
      var mine = Number(el.getAttribute('data-beam')) === selected;
      el.classList.toggle('highlighted', on && mine);
      el.classList.toggle('dimmed', on && !mine);
    });
    // Bring the chosen beam's links to the front.
    if (on) {
      var group = svg.querySelector('.links');
      linkEls.forEach(function (el) { if (el.classList.contains('highlighted')) group.appendChild(el); });
    }
  }
  beamList.addEventListener('click', function (e) {
    var item = e.target.closest('.beam-item');
    if (item) select(Number(item.getAttribute('data-beam')));
  });
  beamList.addEventListener('keydown', function (e) {
    var item = e.target.closest('.beam-item');
    if (item && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      select(Number(item.getAttribute('data-beam')));
    }
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape' && selected !== null) select(selected); });

  // --- tooltips -----------------------------------------------------------------------------
  // One row per edge of the node, per beam: the neighbour, the edge's attention, the beam's score.
  function edgeRow(l, text, other) {
    return '<tr><td><span class="swatch" style="background:' + beamColour(l.beam) + '"></span>#' + l.beam +
           '</td><td>' + text + ' ' + esc(label(other)) + ' (' + other.pos + ')</td><td>' + fmt(l.attn, 4) +
           '</td><td>' + fmt(beams[l.beam].score_norm, 3) + '</td></tr>';
  }
  function byBeam(a, b) { return a.beam - b.beam; }
  function nodeTip(n) {
    var outs = n.outLinks.concat([]).sort(byBeam).map(function (l) { return edgeRow(l, 'to', l.later); });
    var ins = n.inLinks.concat([]).sort(byBeam).map(function (l) { return edgeRow(l, 'from', l.earlier); });
    return '<div class="tip-title">' + esc(shownToken(n)) + '</div>' +
           '<div>position ' + n.pos + (n.pos === target ? ' \u00b7 target' : '') + ' \u00b7 on ' + n.beams.length +
           (n.beams.length === 1 ? ' beam' : ' beams') + '</div>' +
           (ins.length + outs.length ? '<table><tr><th>beam</th><th>edge</th><th>attention</th><th>score</th></tr>' +
                                           outs.join('') + ins.join('') + '</table>' : '');
  }
  function linkTip(l) {
    var b = beams[l.beam];
    return '<div class="tip-title"><span class="swatch" style="background:' + beamColour(l.beam) + '"></span>beam #' +
           l.beam + '</div>' +
           '<div>' + esc(shownToken(l.earlier)) + ' (' + l.earlier.pos + ') \u2192 ' + esc(shownToken(l.later)) +
           ' (' + l.later.pos + ')</div>' +
           '<div>attention A[' + l.later.pos + '][' + l.earlier.pos + '] = ' + fmt(l.attn, 4) + '</div>' +
           '<div>path weight ' + (100 * b.weight).toFixed(1) + '% \u00b7 score ' + fmt(b.score_norm, 4) +
           ' (raw ' + fmt(b.score_raw, 3) + ')</div>';
  }
  function hideTip() { tooltip.hidden = true; }
  svg.addEventListener('pointermove', function (e) {
    if (dragging) { hideTip(); return; }
    var el = e.target.closest('.node, .link');
    if (!el) { hideTip(); return; }
    tooltip.innerHTML = el.classList.contains('node') ? nodeTip(nodes[index[el.getAttribute('data-pos')]])
                                                       : linkTip(links[Number(el.getAttribute('data-link'))]);
    tooltip.hidden = false;
    var pad = 14, w = tooltip.offsetWidth, h = tooltip.offsetHeight;
    var x = e.clientX + pad, y = e.clientY + pad;
    if (x + w > window.innerWidth - 4) x = e.clientX - w - pad;
    if (y + h > window.innerHeight - 4) y = e.clientY - h - pad;
    tooltip.style.left = Math.max(4, x) + 'px';
    tooltip.style.top = Math.max(4, y) + 'px';
  });
  svg.addEventListener('pointerleave', hideTip);

  // --- zoom and pan (the viewBox is the camera) ---------------------------------------------
  var view = {x: 0, y: 0, w: 1, h: 1};
  function size() { var r = svg.getBoundingClientRect(); return {w: Math.max(r.width, 1), h: Math.max(r.height, 1)}; }
  function apply() {
    svg.setAttribute('viewBox', view.x + ' ' + view.y + ' ' + view.w + ' ' + view.h);
    // Labels would only overlap when nodes are closer than a few pixels on screen.
    var pxPerNode = DX * size().w / view.w;
    svg.classList.toggle('far', pxPerNode < 20);
  }
  function showBox(x, y, w, h, maxScale) {
    var s = size();
    var scale = Math.min(s.w / w, s.h / h, maxScale || Infinity);
    view.w = s.w / scale;
    view.h = s.h / scale;
    view.x = x + (w - view.w) / 2;
    view.y = y + (h - view.h) / 2;
    apply();
  }
  // Small diagrams are not blown up past 1.5x.
  function fitAll() { showBox(bounds.x, bounds.y, bounds.w, bounds.h, 1.5); }
  // The start view: everything when it stays readable, else the target end at a readable zoom.
  function startView() {
    var s = size();
    var scale = Math.min(s.w / bounds.w, s.h / bounds.h);
    if (scale >= 0.45) { fitAll(); return; }
    var zoom = Math.max(0.45, Math.min(1, s.h / bounds.h));
    view.w = s.w / zoom;
    view.h = s.h / zoom;
    view.x = bounds.x + bounds.w - view.w;
    view.y = bounds.y + (bounds.h - view.h) / 2;
    apply();
  }
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = svg.getBoundingClientRect();
    var fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
    var px = view.x + fx * view.w, py = view.y + fy * view.h;
    var factor = Math.exp(e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    var w = Math.min(Math.max(view.w * factor, 60), Math.max(bounds.w, bounds.h * r.width / r.height) * 4);
    factor = w / view.w;
    view.w = w;
    view.h *= factor;
    view.x = px - fx * view.w;
    view.y = py - fy * view.h;
    apply();
  }, {passive: false});
  var dragging = false, moved = false, last = null;
  svg.addEventListener('pointerdown', function (e) {
    if (e.button !== 0) return;
    dragging = true;
    moved = false;
    last = {x: e.clientX, y: e.clientY};
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointermove', function (e) {
    if (!dragging) return;
    var dx = e.clientX - last.x, dy = e.clientY - last.y;
    if (Math.abs(dx) + Math.abs(dy) > 2) moved = true;
    if (!moved) return;
    var s = size();
    view.x -= dx * view.w / s.w;
    view.y -= dy * view.h / s.h;
    last = {x: e.clientX, y: e.clientY};
    svg.classList.add('grabbing');
    apply();
  });
  function endDrag(e) {
    if (!dragging) return;
    dragging = false;
    svg.classList.remove('grabbing');
    if (!moved) {  // a click: on a link selects its beam, on the background clears the selection
      var el = document.elementFromPoint(e.clientX, e.clientY);
      var link = el && el.closest ? el.closest('.link') : null;
      if (link) select(Number(link.getAttribute('data-beam')));
      else if (selected !== null && !(el && el.closest && el.closest('.node'))) select(selected);
    }
  }
  svg.addEventListener('pointerup', endDrag);
  svg.addEventListener('pointercancel', function () { dragging = false; svg.classList.remove('grabbing'); });
  document.getElementById('fit').addEventListener('click', fitAll);
  document.getElementById('target-end').addEventListener('click', startView);
  window.addEventListener('resize', function () { showBox(view.x, view.y, view.w, view.h); });

  startView();
  window.ratraceView = view;
  window.ratraceReady = true;
  document.body.setAttribute('data-ready', 'true');
})();
)RATRACE_JS";

}  // namespace ratrace::html::assets
