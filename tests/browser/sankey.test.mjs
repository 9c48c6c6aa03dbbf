// `ratrace render` pages in headless Chromium: clean load, one element per node / link / beam,
// highlighting, tooltips, zoom and pan, a non-blank screenshot, and a 600-node chain.
import assert from 'node:assert/strict';
import {after, before, test} from 'node:test';

import {keepScreenshot, launch, openPage, readJson} from './lib/browser.mjs';
import {decodePng, imageStats} from './lib/png.mjs';

// What the page must show, from `ratrace paths --format json` (one job).
function expectedFrom(pathsFile) {
  const jobs = readJson(pathsFile);
  assert.equal(jobs.length, 1, `${pathsFile} should hold exactly one job`);
  const paths = jobs[0].paths;
  const positions = new Set(paths.flatMap((p) => p.positions));
  return {
    job: jobs[0],
    positions: [...positions].sort((a, b) => a - b),
    links: paths.reduce((n, p) => n + p.positions.length - 1, 0),
    linksPerBeam: paths.map((p) => p.positions.length - 1),
    beams: paths.length,
    paths,
  };
}

async function ready(page) {
  await page.waitForFunction(() => window.ratraceReady === true, null, {timeout: 15000});
}

async function viewBox(page) {
  return (await page.locator('#sankey').getAttribute('viewBox')).split(/\s+/).map(Number);
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { if (browser) await browser.close(); });

test('sankey page loads cleanly and draws every node, link and beam', {timeout: 30000}, async () => {
  const want = expectedFrom('sankey_paths.json');
  const {page, problems} = await openPage(browser, 'sankey.html');
  await ready(page);
  assert.equal(await page.locator('svg .node').count(), want.positions.length);
  assert.equal(await page.locator('svg .link').count(), want.links);
  assert.equal(await page.locator('.beam-item').count(), want.beams);
  const shown = await page.locator('svg .node').evaluateAll((els) => els.map((e) => Number(e.dataset.pos)));
  assert.deepEqual(shown.sort((a, b) => a - b), want.positions);
  for (let r = 0; r < want.beams; ++r)
    assert.equal(await page.locator(`svg .link[data-beam="${r}"]`).count(), want.linksPerBeam[r], `links of beam ${r}`);
  // The target is marked, and the beam list shows the same weights as `ratrace paths`.
  assert.equal(await page.locator(`svg .node.target`).getAttribute('data-pos'), String(want.job.target));
  const weights = await page.locator('.beam-item .weight').allTextContents();
  assert.deepEqual(weights, want.paths.map((p) => `${(100 * p.weight).toFixed(1)}%`));
  assert.deepEqual(problems, []);
  await page.close();
});

test('clicking a beam highlights its path and dims the others; clicking again clears', {timeout: 30000}, async () => {
  const want = expectedFrom('sankey_paths.json');
  assert.ok(want.beams >= 2, 'the sample job needs at least two beams');
  const {page, problems} = await openPage(browser, 'sankey.html');
  await ready(page);
  const chosen = 1;
  await page.click(`.beam-item[data-beam="${chosen}"]`);
  const classes = await page.locator('svg .link').evaluateAll((els) =>
    els.map((e) => ({beam: Number(e.dataset.beam), highlighted: e.classList.contains('highlighted'),
                     dimmed: e.classList.contains('dimmed')})));
  for (const c of classes) {
    assert.equal(c.highlighted, c.beam === chosen, `link of beam ${c.beam}`);
    assert.equal(c.dimmed, c.beam !== chosen, `link of beam ${c.beam}`);
  }
  assert.ok(await page.locator(`.beam-item[data-beam="${chosen}"]`).evaluate((e) => e.classList.contains('highlighted')));
  assert.equal(await page.locator('.beam-item.dimmed').count(), want.beams - 1);
  // Nodes on the chosen path stay lit; the others are dimmed.
  const onPath = new Set(want.paths[chosen].positions);
  const nodes = await page.locator('svg .node').evaluateAll((els) =>
    els.map((e) => ({pos: Number(e.dataset.pos), dimmed: e.classList.contains('dimmed')})));
  for (const n of nodes) assert.equal(n.dimmed, !onPath.has(n.pos), `node ${n.pos}`);

  await page.click(`.beam-item[data-beam="${chosen}"]`);
  assert.equal(await page.locator('svg .highlighted, svg .dimmed, .beam-item.dimmed').count(), 0);
  assert.deepEqual(problems, []);
  await page.close();
});

test('hovering a node shows its token, position and attention', {timeout: 30000}, async () => {
  const want = expectedFrom('sankey_paths.json');
  const {page, problems} = await openPage(browser, 'sankey.html');
  await ready(page);
  // `ratrace paths` lists tokens earliest first, with edge_attn[k] on the arrow from token k to k + 1.
  const best = want.paths[0];
  assert.ok(best.positions.length >= 3, 'the best path of the sample job needs two edges');
  const pos = best.positions[1];
  await page.hover(`svg .node[data-pos="${pos}"] rect`);
  const tip = page.locator('#tooltip');
  await tip.waitFor({state: 'visible', timeout: 5000});
  const text = await tip.textContent();
  assert.match(text, new RegExp(`position ${pos}\\b`));
  assert.ok(text.includes(best.tokens[1]), `token of ${pos} in: ${text}`);
  assert.ok(text.includes(best.edge_attn[0].toFixed(4)), `attention into ${pos} in: ${text}`);
  assert.ok(text.includes(best.edge_attn[1].toFixed(4)), `attention out of ${pos} in: ${text}`);
  await page.mouse.move(2, 2);
  await tip.waitFor({state: 'hidden', timeout: 5000});
  assert.deepEqual(problems, []);
  await page.close();
});

test('wheel zooms around the pointer and dragging pans', {timeout: 30000}, async () => {
  const {page, problems} = await openPage(browser, 'sankey.html');
  await ready(page);
  const box = await page.locator('#sankey').boundingBox();
  const before = await viewBox(page);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  await page.waitForFunction((w) => Number(document.getElementById('sankey').getAttribute('viewBox').split(' ')[2]) < w,
                             before[2], {timeout: 5000});
  const zoomed = await viewBox(page);
  assert.ok(zoomed[2] < before[2] * 0.8, `zoom in: ${before} -> ${zoomed}`);
  // Drag from an empty corner of the canvas: the camera moves against the pointer.
  await page.mouse.move(box.x + 20, box.y + 20);
  await page.mouse.down();
  await page.mouse.move(box.x + 220, box.y + 80, {steps: 5});
  await page.mouse.up();
  const panned = await viewBox(page);
  assert.ok(panned[0] < zoomed[0] - 10, `pan left: ${zoomed} -> ${panned}`);
  assert.ok(panned[1] < zoomed[1] - 2, `pan up: ${zoomed} -> ${panned}`);
  assert.equal(panned[2], zoomed[2]);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the screenshot of the Sankey is not blank', {timeout: 30000}, async () => {
  const {page, problems} = await openPage(browser, 'sankey.html');
  await ready(page);
  const png = await page.screenshot();
  const stats = imageStats(decodePng(png));
  assert.ok(stats.inkedShare > 0.04, `inked share ${stats.inkedShare}`);
  assert.ok(stats.variance > 100, `luminance variance ${stats.variance}`);
  assert.ok(stats.distinctColours > 30, `distinct colours ${stats.distinctColours}`);
  // The SVG area itself holds the drawing (not just the side panel).
  const box = await page.locator('#sankey').boundingBox();
  const canvas = imageStats(decodePng(await page.screenshot({clip: box})));
  assert.ok(canvas.inkedShare > 0.03 && canvas.distinctColours > 10, JSON.stringify(canvas));
  keepScreenshot(png, 'sankey.png');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a chain of 500+ nodes renders with one element per node and link', {timeout: 45000}, async () => {
  const want = expectedFrom('long_paths.json');
  assert.ok(want.positions.length >= 500, `the long job has only ${want.positions.length} nodes`);
  const {page, problems} = await openPage(browser, 'long.html');
  await ready(page);
  assert.equal(await page.locator('svg .node').count(), want.positions.length);
  assert.equal(await page.locator('svg .link').count(), want.links);
  // The DOM stays small: a group with a rect and two labels per node, one path per link.
  const elements = await page.locator('#sankey *').count();
  assert.ok(elements <= 4 * want.positions.length + want.links + 10, `${elements} SVG elements`);
  // Fit all: everything in view; labels are hidden at that scale.
  await page.click('#fit');
  assert.ok(await page.locator('#sankey').evaluate((e) => e.classList.contains('far')));
  const stats = imageStats(decodePng(await page.screenshot({clip: await page.locator('#sankey').boundingBox()})));
  assert.ok(stats.inkedShare > 0.005, `inked share ${stats.inkedShare}`);
  await page.click(`.beam-item[data-beam="${want.beams - 1}"]`);
  assert.equal(await page.locator('svg .link.highlighted').count(), want.linksPerBeam[want.beams - 1]);
  assert.deepEqual(problems, []);
  await page.close();
});
