// `npm run screenshot`: the README's picture of the dashboard (docs/dashboard.png), taken by a real
// headless Chromium from a real mesh: etcd, etcd-xds, echo backends of two services and versions,
// a caller-routing policy (appV2 → userV3) with weights, grpc-js-xds clients with and without
// caller labels making calls, a client that NACKs, a bad registration, and a few changes so the
// latency chart has points.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { grpcBootstrap } from '../src/cli/bootstrap';
import { CLUSTER } from '../src/proto/xds-types';
import { launchBrowser } from '../testkit/browser';
import { Mesh } from '../testkit/mesh';
import { RawAdsClient, refuseFirst } from '../testkit/raw-ads-client';
import { XdsClientProcess } from '../testkit/xds-client-process';

const OUT = path.join(__dirname, '..', 'docs', 'dashboard.png');

async function main(): Promise<void> {
  const mesh = await Mesh.start();
  const stops: (() => Promise<void> | void)[] = [() => mesh.stop()];
  try {
    await mesh.addBackend({ service: 'app', id: 'app-v1-a', version: 'v1' });
    await mesh.addBackend({ service: 'app', id: 'app-v2-a', version: 'v2' });
    for (const [id, version] of [
      ['user-v1-a', 'v1'],
      ['user-v1-b', 'v1'],
      ['user-v3-a', 'v3'],
    ])
      await mesh.addBackend({ service: 'user', id, version });
    await mesh.putPolicy('user', {
      weights: { v1: 80, v3: 20 },
      routes: [{ match: { caller: { service: 'app', version: 'v2' } }, version: 'v3' }],
      timeout: '2s',
      retry: { on: ['unavailable'], attempts: 3 },
    });
    const clients = [
      {
        nodeId: 'app-v2-7f9c',
        labels: new Map([
          ['service', 'app'],
          ['version', 'v2'],
        ]),
      },
      {
        nodeId: 'app-v1-2b41',
        labels: new Map([
          ['service', 'app'],
          ['version', 'v1'],
        ]),
      },
      { nodeId: 'batch-job-1', labels: undefined },
    ];
    const running: XdsClientProcess[] = [];
    for (const { nodeId, labels } of clients) {
      const client = await XdsClientProcess.start(
        'grpc-js',
        grpcBootstrap({ servers: [mesh.server.xdsAddress], nodeId, labels }),
      );
      stops.push(() => client.stop());
      running.push(client);
      await client.call('xds:///user', { count: 4 });
    }
    const nacker = new RawAdsClient(mesh.server.xdsAddress, { id: 'legacy-proxy', user_agent_name: 'raw' });
    stops.push(() => nacker.close());
    await refuseFirst(nacker, CLUSTER.typeUrl, ['user'], 'unsupported lb_policy ROUND_ROBIN');
    await mesh.kv
      .put('/services/user/user-bad')
      .value('{"name":"user","id":"user-bad","address":"not-an-address"}');
    // A few changes the clients watch, for the chart and their convergence: instances come and go.
    for (let i = 0; i < 6; i++) {
      await mesh.addBackend({ service: 'user', id: `user-v3-b${i}`, version: 'v3' });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      if (i < 5) await mesh.removeBackend(`user-v3-b${i}`);
      await Promise.all(running.map((client) => client.call('xds:///user', { count: 1 })));
    }

    const browser = await launchBrowser();
    stops.push(() => browser.close());
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
    await page.goto(`${mesh.server.adminUrl}/ui`);
    await page.waitForSelector('[data-client="legacy-proxy"] [data-status="nacked"]', { timeout: 10_000 });
    await page.waitForSelector('[data-rejected]', { timeout: 10_000 });
    // Explain the pinned call, as an operator would.
    await page.type('#explain [name="service"]', 'user');
    await page.type('#explain [name="headers"]', 'version: v1');
    await page.type('#explain [name="caller"]', 'service=app\nversion=v2');
    await page.focus('#explain [name="service"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#explain-answer', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#latency-chart canvas').length > 0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    await page.screenshot({ path: OUT, fullPage: true });
    console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
