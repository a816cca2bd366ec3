// The HTML timeline in a real browser: Debian's chromium driven by playwright-core.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { formatHtml } from '../../lib/report/format-html.js';
import { loadTrace } from '../../lib/report/load.js';
import { toolGate } from '../helpers/tools.js';
import { fixture, scratch } from './helpers.js';

const CHROMIUM = process.env.GIL_NVTX_CHROMIUM ?? '/usr/bin/chromium';
const gate = toolGate('chromium', existsSync(CHROMIUM), 'GIL_NVTX_REQUIRE_CHROMIUM');

describe.skipIf(gate.skip)('HTML report in Chromium', () => {
  let context: BrowserContext;
  const dir = scratch('gil-nvtx-html-');
  let file: string;
  let holdsInData = 0;
  let lanesInData = 0;

  beforeAll(async () => {
    const g = fixture('chromium', { holds: 120, badNames: true, openFinalHold: true });
    const trace = await loadTrace(g.path);
    const report = analyzeTrace(trace, { top: 3 });
    const html = formatHtml(trace, report);
    trace.close();
    const data = JSON.parse(html.match(/id="gil-data">([^<]*)<\/script>/)![1]!);
    holdsInData = data.holds.length;
    lanesInData = data.lanes.length;
    file = join(dir, 'report.html');
    writeFileSync(file, html);
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'gil-nvtx-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
  });

  it('draws one lane per thread, the holds and waits, marks the longest holds, and zooms and pans', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    let dialogs = 0;
    page.on('dialog', async (d) => {
      dialogs++;
      await d.dismiss();
    });
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.goto(`file://${file}`);
    await page.waitForSelector('svg#tl rect.hold');

    // Four GIL threads, plus the Node process's thread with its request range on a lane of its own.
    expect(lanesInData).toBe(5);
    await expect(page.locator('text.lane-label').count()).resolves.toBe(lanesInData);
    // The hostile thread name is a label, as text: no dialog, no extra script element.
    const labels = await page.locator('text.lane-label').allTextContents();
    expect(labels.some((l) => l.startsWith('<script>alert(1)</script>'))).toBe(true);
    expect(dialogs).toBe(0);
    await expect(page.locator('script').count()).resolves.toBe(2);
    await expect(page.locator('main').innerText()).resolves.toContain('<script>alert(1)</script>');

    const drawn = async () => ({
      holds: Number(await page.locator('svg#tl').getAttribute('data-holds')),
      rects: await page.locator('rect.hold').count(),
      waits: await page.locator('rect.wait').count(),
    });
    const whole = await drawn();
    expect(whole.rects).toBe(whole.holds);
    expect(whole.holds).toBeGreaterThan(0);
    expect(whole.holds).toBeLessThanOrEqual(holdsInData);
    expect(whole.waits).toBeGreaterThan(0);
    await expect(page.locator('rect.hold.long').count()).resolves.toBe(3);
    await expect(page.locator('rect.marker').count()).resolves.toBe(3);
    await expect(page.locator('rect.hold.open').count()).resolves.toBe(1);
    await expect(page.locator('rect.range').count()).resolves.toBe(1);
    await expect(page.locator('rect.range title').textContent()).resolves.toMatch(/^node:request \/predict /);
    await page.screenshot({ path: join(dir, 'whole.png') });

    // Zoom onto the longest hold through its link in the list: it fills most of the view.
    await page.locator('a.zoomto[data-rank="1"]').click();
    const marker = await page.locator('rect.marker').first().boundingBox();
    expect(marker!.width).toBeGreaterThan(500);
    // Zooming further into the hold leaves only it (and its neighbours) drawn.
    for (let i = 0; i < 3; i++) await page.keyboard.press('+');
    const zoomed = await drawn();
    expect(zoomed.holds).toBeLessThan(whole.holds);
    expect(zoomed.holds).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: join(dir, 'zoomed.png') });

    // Reset, then wheel-zoom in and drag to pan: the visible window changes.
    await page.locator('#zreset').click();
    const before = await page.locator('#range').innerText();
    const box = (await page.locator('#timeline').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 40);
    await page.mouse.wheel(0, -400);
    const afterWheel = await page.locator('#range').innerText();
    expect(afterWheel).not.toBe(before);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 200, box.y + 40, { steps: 5 });
    await page.mouse.up();
    expect(await page.locator('#range').innerText()).not.toBe(afterWheel);

    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    process.stderr.write(`[html-chromium] screenshots in ${dir}\n`);
  }, 120_000);
});
