// A real headless Chromium (Debian's `chromium` package) driven by puppeteer-core, for the
// dashboard's tests, its screenshot and its bench. Collects everything the page reports as an
// error (console errors, uncaught exceptions, failed requests), so a test can assert there were none.
import { execFileSync } from 'node:child_process';
// puppeteer-core is an ES module: imported dynamically from this CommonJS project.
import type { Browser, Page } from 'puppeteer-core' with { 'resolution-mode': 'import' };

/** The Chromium to drive: $CHROMIUM, else `chromium` on the PATH. */
export function chromiumPath(): string {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no chromium: install Debian\'s "chromium" package (npm test does when run as root)');
  }
}

export async function launchBrowser(): Promise<Browser> {
  const { default: puppeteer } = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in a container has no user namespace for Chromium's sandbox; /dev/shm may be tiny.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** A page that records every error it reports. */
export async function watchedPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${String(error)}`));
  page.on('requestfailed', (request) => {
    // An event stream the page (or its close) ends is not an error.
    if (request.url().endsWith('/ui/events')) return;
    errors.push(`request: ${request.url()} ${request.failure()?.errorText ?? ''}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`response: ${response.status()} ${response.url()}`);
  });
  return { page, errors };
}
