// Bench scenario `dashboard` (issue: see the mesh): what the /ui page costs at scale. A catalog of
// --dashboard-services services × 10 instances, --dashboard-streams ADS streams spread over the
// first services, and the page open in a real headless Chromium. Measured:
// - first load: from navigation to the first page of services and clients on screen, and every
//   byte the page fetched for it (HTML, scripts, styles, the first API pages, the first event);
// - each update: an instance of svc-0 (on the first page) added or removed in etcd, until the page
//   shows it (no reload), and the bytes the page fetched for it (event + refetched pages);
// - the server's CPU while the page is open and nothing changes.
import { Etcd3 } from 'etcd3';
import type { Page } from 'puppeteer-core' with { 'resolution-mode': 'import' };
import { EtcdProcess } from '../testkit/etcd';
import type { ServerProcess } from '../testkit/server-process';
import { launchBrowser, watchedPage } from '../testkit/browser';
import { median, round } from './lib/stats';
import {
  etcdChange,
  log,
  metrics,
  openSpread,
  seed,
  sleep,
  startLoadgen,
  startServer,
  waitReady,
  type Options,
} from './lib/world';
import { now } from './loadgen';

const INSTANCES = 10;
const KB = 1024;

export interface DashboardResult {
  readonly services: number;
  readonly instances: number;
  readonly streams: number;
  readonly firstLoad: { readonly ms: number; readonly kB: number; readonly requests: number };
  readonly update: {
    readonly rounds: number;
    /** Per round, etcd write → the page shows the change (ms). */
    readonly ms: { readonly p50: number; readonly max: number };
    /** Per round, bytes the page received: its refetched pages and the events of that time. */
    readonly kB: { readonly p50: number; readonly max: number };
  };
  /** The `state` events the page received over the run, and their mean size. */
  readonly events: { readonly count: number; readonly meanKB: number };
  /** The server's CPU (share of one core) over 10 s with the page open and nothing changing. */
  readonly idleCpu: number;
  readonly errors: readonly string[];
}

/** Bytes the page has received so far: every fetch and file (transfer size) and every event. */
function received(page: Page): Promise<{ bytes: number; requests: number }> {
  return page.evaluate(() => {
    const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    const navigation = performance.getEntriesByType('navigation') as PerformanceResourceTiming[];
    const all = [...navigation, ...entries];
    const events = (window as unknown as { eventBytes?: number }).eventBytes ?? 0;
    return { bytes: all.reduce((sum, e) => sum + e.transferSize, 0) + events, requests: all.length };
  });
}

const cpuSeconds = async (server: ServerProcess): Promise<number> =>
  (await metrics(server)).get('etcd_xds_process_cpu_seconds_total') ?? NaN;

export async function dashboard(options: Options): Promise<DashboardResult> {
  const services = options.dashboardServices;
  const streams = options.dashboardStreams;
  const etcd = await EtcdProcess.start();
  const kv = new Etcd3({ hosts: etcd.url });
  const loadgen = startLoadgen();
  const browser = await launchBrowser();
  try {
    await seed(kv, services, INSTANCES);
    const server = await startServer(etcd, options);
    try {
      await waitReady(server);
      await openSpread(loadgen, server.xdsAddress, streams, Math.min(streams, services), options);
      const { page, errors } = await watchedPage(browser);
      await page.setViewport({ width: 1280, height: 900 });
      // Count the bytes of every server-sent event (transfer sizes do not cover an open stream).
      await page.evaluateOnNewDocument(() => {
        const counted = window as unknown as { eventBytes: number; events: number };
        counted.eventBytes = 0;
        counted.events = 0;
        const Original = window.EventSource;
        window.EventSource = class extends Original {
          constructor(url: string | URL, init?: EventSourceInit) {
            super(url, init);
            this.addEventListener('state', (e) => {
              counted.eventBytes += (e as MessageEvent<string>).data.length;
              counted.events++;
            });
          }
        };
      });
      const start = now();
      await page.goto(`${server.adminUrl}/ui`);
      await page.waitForSelector('[data-service="svc-0"]', { timeout: 60_000 });
      await page.waitForSelector('[data-client]', { timeout: 60_000 });
      await page.waitForSelector('#live.ok', { timeout: 60_000 });
      const firstMs = now() - start;
      const first = await received(page);
      log(`  first load: ${round(firstMs)} ms, ${round(first.bytes / KB)} kB in ${first.requests} requests`);

      const updateMs: number[] = [];
      const updateKB: number[] = [];
      const rounds = options.warmup + options.rounds;
      for (let r = 0; r < rounds; r++) {
        const before = await received(page);
        const t0 = await etcdChange(kv, r);
        const selector = '[data-service="svc-0"] [data-instance="i-9999"]';
        if (r % 2 === 0) await page.waitForSelector(selector, { timeout: 30_000 });
        else
          await page.waitForFunction(
            (s) => document.querySelector(s) === null,
            { timeout: 30_000 },
            selector,
          );
        const ms = now() - t0;
        // The refetches the change caused (services page; clients page as streams ACK) settle.
        await sleep(1_500);
        const after = await received(page);
        if (r < options.warmup) continue;
        updateMs.push(ms);
        updateKB.push((after.bytes - before.bytes) / KB);
      }
      const events = await page.evaluate(() => {
        const counted = window as unknown as { eventBytes: number; events: number };
        return { count: counted.events, kB: counted.eventBytes / 1024 };
      });
      const cpu0 = await cpuSeconds(server);
      const t0 = now();
      await sleep(10_000);
      const idleCpu = (await cpuSeconds(server)) - cpu0;
      const result: DashboardResult = {
        services,
        instances: services * INSTANCES,
        streams,
        firstLoad: { ms: round(firstMs), kB: round(first.bytes / KB), requests: first.requests },
        update: {
          rounds: updateMs.length,
          ms: { p50: round(median(updateMs)), max: round(Math.max(...updateMs)) },
          kB: { p50: round(median(updateKB)), max: round(Math.max(...updateKB)) },
        },
        events: { count: events.count, meanKB: round(events.kB / Math.max(1, events.count), 2) },
        idleCpu: round(idleCpu / ((now() - t0) / 1000), 3),
        errors,
      };
      log(`  ${JSON.stringify(result)}`);
      await page.close();
      return result;
    } finally {
      await server.signal('SIGTERM').catch(() => undefined);
    }
  } finally {
    await browser.close();
    await loadgen.request({ cmd: 'close' }, 'closed').catch(() => undefined);
    await loadgen.stop();
    kv.close();
    await etcd.stop();
  }
}
