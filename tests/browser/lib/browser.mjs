// Headless Chromium (Debian's /usr/bin/chromium, never a downloaded one) driven by playwright-core,
// with a fresh profile per run, and page helpers that collect every console error, page error and
// failed or external request.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {chromium} from 'playwright-core';

export const work = process.env.RATRACE_BROWSER_WORK;
if (!work) throw new Error('RATRACE_BROWSER_WORK is not set: run these tests through tests/browser/run.sh');

export function workFile(name) { return path.join(work, name); }
export function readJson(name) { return JSON.parse(fs.readFileSync(workFile(name), 'utf8')); }

export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ratrace-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.RATRACE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--no-first-run', '--disable-default-apps', '--disable-sync',
           '--disable-extensions', '--mute-audio'],
    viewport: {width: 1400, height: 820},
    deviceScaleFactor: 1,
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, {recursive: true, force: true});
    },
  };
}

// Opens a generated page from the work folder; `problems` lists anything that went wrong.
export async function openPage(browser, name) {
  const page = await browser.context.newPage();
  const url = pathToFileURL(workFile(name)).href;
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('request', (r) => { if (r.url() !== url) problems.push(`unexpected request: ${r.url()}`); });
  const response = await page.goto(url, {waitUntil: 'load'});
  if (response && !response.ok()) problems.push(`page load status ${response.status()}`);
  return {page, problems};
}

// Optionally keeps a screenshot for the docs (tests/browser/run.sh --docs-img DIR).
export function keepScreenshot(png, name) {
  const dir = process.env.RATRACE_DOCS_IMG;
  if (dir) fs.writeFileSync(path.join(dir, name), png);
}
