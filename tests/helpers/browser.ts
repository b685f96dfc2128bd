/**
 * What the browser tests share: Debian's Chromium launched by playwright-core, axe-core run in the
 * page, screenshots kept as test artifacts (and, on request, as the README's pictures), and the
 * checks a person would make by eye: nothing scrolls sideways, every control is big enough to tap.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './fixtures.ts';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Screenshots of every run (git-ignored). */
export const ARTIFACTS = join(ROOT, '.tmp', 'browser');
/** The README's pictures: refreshed when the test runs with UPDATE_SCREENSHOTS=1. */
const README_SHOTS = join(ROOT, 'docs', 'screenshots');

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...extraArgs] });
}

let axeSource: Promise<string> | undefined;

/** Runs axe-core on the page at WCAG 2.1 A and AA; fails with each violation and where it is. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  axeSource ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const source = await axeSource;
  // Injected through the DevTools protocol, which the page's Content-Security-Policy does not govern.
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[]; failureSummary: string }[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`).join(' | ')}`);
  });
  assert.deepEqual(violations, [], `axe on ${what}`);
}

/** What a person sees on a phone: no sideways scrolling, and every control at least 44 px tall. */
export async function assertFitsAndTappable(page: Page, what: string): Promise<void> {
  const problems = await page.evaluate(() => {
    const out: string[] = [];
    if (document.documentElement.scrollWidth > window.innerWidth) out.push(`scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('a[href], button, select, input:not([type=hidden]), textarea'))) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.right < 0 || el.closest('[hidden]')) continue; // not shown (the skip link waits off-screen)
      if (r.height < 43.5) out.push(`${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 30)}" is ${r.height.toFixed(0)} px tall`);
    }
    return out;
  });
  assert.deepEqual(problems, [], what);
}

export async function screenshot(page: Page, name: string, readme = false): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (readme && process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(README_SHOTS, { recursive: true });
    await copyFile(path, join(README_SHOTS, `${name}.png`));
  }
  return path;
}
