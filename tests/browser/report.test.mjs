// `ratrace report` in headless Chromium: clean load, the figures it promises, example paths, and a
// non-blank screenshot.
import assert from 'node:assert/strict';
import {after, before, test} from 'node:test';

import {keepScreenshot, launch, openPage, readJson} from './lib/browser.mjs';
import {decodePng, imageStats} from './lib/png.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { if (browser) await browser.close(); });

test('report loads cleanly with decay plots, heat maps and example paths', {timeout: 30000}, async () => {
  const decay = readJson('decay.json');    // ratrace decay --format json
  const jobs = readJson('all_paths.json');  // ratrace paths --format json
  const layers = new Set(decay.rows.map((r) => r.layer));
  const heads = new Set(decay.rows.map((r) => r.head));
  const {page, problems} = await openPage(browser, 'report.html');
  // One overall decay figure, one per layer, two heat maps.
  assert.equal(await page.locator('main svg').count(), 1 + layers.size + 2);
  // Every (head, layer) cell of both heat maps.
  assert.equal(await page.locator('rect.cell').count(), 2 * heads.size * layers.size);
  assert.equal(await page.locator('.job').count(), Math.min(6, jobs.length));
  // Example paths are shown earliest first and end at their target.
  const first = page.locator('.job').first();
  const title = await first.locator('h3').textContent();
  const job = jobs.find((j) => title.includes(`layer ${j.layer} · head ${j.head} · target ${j.target}`) &&
                               title.startsWith(j.seq));
  assert.ok(job, `no job matches the first example: ${title}`);
  const chain = await first.locator('li').first().locator('.tok').allTextContents();
  const best = job.paths[0];
  assert.equal(chain[0], `${best.tokens[0]}${best.positions[0]}`);
  assert.equal(chain.at(-1), `${best.tokens.at(-1)}${best.positions.at(-1)}`);
  // The run's parameters are listed.
  const params = await page.locator('table.kv').textContent();
  for (const key of ['top_beam', 'top_k', 'length_norm', 'min_attn']) assert.ok(params.includes(key), key);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the screenshot of the report is not blank', {timeout: 30000}, async () => {
  const {page, problems} = await openPage(browser, 'report.html');
  await page.setViewportSize({width: 1280, height: 1500});
  const png = await page.screenshot();
  const stats = imageStats(decodePng(png));
  assert.ok(stats.inkedShare > 0.03, `inked share ${stats.inkedShare}`);
  assert.ok(stats.variance > 100, `luminance variance ${stats.variance}`);
  assert.ok(stats.distinctColours > 30, `distinct colours ${stats.distinctColours}`);
  keepScreenshot(png, 'report.png');
  assert.deepEqual(problems, []);
  await page.close();
});
