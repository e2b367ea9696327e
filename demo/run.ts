// `npm run demo`: the whole story on one machine. A throwaway etcd, `etcd-xds serve`, v1 and v2
// backends registering themselves under leases, and a proxyless grpc-js client that calls
// xds:///app by version. The client is itself app v2 (caller labels in its bootstrap, as
// `etcd-xds bootstrap --service app --version v2` writes them), so the last act pins it to user v3
// with one policy key, and `etcd-xds explain` says why. Prints which instance answered each call.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { grpcBootstrap } from '../src/cli/bootstrap';
import { createEchoClient } from '../src/demo/echo';
import { Mesh } from '../testkit/mesh';
import { runCli } from '../testkit/run-cli';

type Outcome = { id: string; version: string } | { error: string };

const bold = (text: string): string => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

function step(title: string): void {
  console.log(`\n${bold(`▶ ${title}`)}`);
}

async function main(): Promise<void> {
  step('Starting a throwaway etcd and etcd-xds serve');
  const mesh = await Mesh.start();
  console.log(`  etcd        ${mesh.etcd.url}`);
  console.log(`  etcd-xds    xDS ${mesh.server.xdsAddress}, admin ${mesh.server.adminUrl}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-demo-'));
  const bootstrapPath = path.join(dir, 'bootstrap.json');
  fs.writeFileSync(
    bootstrapPath,
    JSON.stringify(
      grpcBootstrap({
        servers: [mesh.server.xdsAddress],
        nodeId: 'demo-client',
        labels: new Map([
          ['service', 'app'],
          ['version', 'v2'],
        ]),
      }),
      null,
      2,
    ),
  );
  process.env.GRPC_XDS_BOOTSTRAP = bootstrapPath;
  grpcXds.register();
  const clients = new Map<string, ReturnType<typeof createEchoClient>>();
  const clientOf = (target: string): ReturnType<typeof createEchoClient> => {
    let client = clients.get(target);
    if (client === undefined) clients.set(target, (client = createEchoClient(target)));
    return client;
  };
  let target = 'xds:///app';

  const call = (metadata: Record<string, string> = {}): Promise<Outcome> =>
    new Promise((resolve) => {
      const md = new grpc.Metadata();
      for (const [key, value] of Object.entries(metadata)) md.set(key, value);
      clientOf(target).Who({ caller: 'demo' }, md, { deadline: Date.now() + 3_000 }, (error, reply) =>
        resolve(
          error
            ? { error: `${grpc.status[error.code]}: ${error.details}` }
            : { id: reply!.id, version: reply!.version },
        ),
      );
    });

  async function show(label: string, metadata: Record<string, string>, count: number): Promise<void> {
    const tally = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const outcome = await call(metadata);
      const key = 'error' in outcome ? outcome.error : `${outcome.id} (${outcome.version})`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    console.log(`  ${label.padEnd(34)} → ${[...tally].map(([who, n]) => `${who} ×${n}`).join(', ')}`);
  }

  /** Calls until `streak` answers in a row satisfy `predicate`; fails after 100 misses. */
  async function waitUntil(
    predicate: (outcome: Outcome) => boolean,
    metadata: Record<string, string>,
    streak = 1,
  ): Promise<void> {
    for (let misses = 0, hits = 0; hits < streak;) {
      const outcome = await call(metadata);
      if (predicate(outcome)) hits++;
      else {
        hits = 0;
        if (++misses === 100)
          throw new Error(`the client never got there; last answer ${JSON.stringify(outcome)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  try {
    step('Registering backends in etcd (each under a 10 s lease, as `etcd-xds register` does)');
    for (const [id, version] of [
      ['app-v1-a', 'v1'],
      ['app-v1-b', 'v1'],
      ['app-v2-a', 'v2'],
    ]) {
      const running = await mesh.addBackend({ id, version });
      console.log(`  ${running.registrar.key.padEnd(26)} ${running.registrar.value}`);
    }

    step('Calling xds:///app through the proxyless gRPC client');
    await waitUntil((o) => 'id' in o, {});
    await show('header version: v1', { version: 'v1' }, 6);
    await show('header version: v2', { version: 'v2' }, 6);
    await show('header version: v9 (no instances)', { version: 'v9' }, 2);
    await show('no version header', {}, 9);

    step('Policy /xds/policies/app: {"weights":{"v1":90,"v2":10}}');
    await mesh.waitForAcks(await mesh.putPolicy('app', { weights: { v1: 90, v2: 10 } }));
    // grpc-js ACKs a new config a moment before its channel routes by it (~20 ms here).
    await new Promise((r) => setTimeout(r, 250));
    await show('no version header, 200 calls', {}, 200);

    step('Policy: beta users (x-group: beta) get v2, everyone else v1');
    await mesh.waitForAcks(
      await mesh.putPolicy('app', {
        defaultVersion: 'v1',
        routes: [{ match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v2' }],
      }),
    );
    // The client ACKs a moment before it routes by the new rules, and under the 90/10 split a
    // beta call may land on v2 by chance: wait for ten in a row.
    await waitUntil((o) => 'id' in o && o.version === 'v2', { 'x-group': 'beta' }, 10);
    await show('header x-group: beta', { 'x-group': 'beta' }, 4);
    await show('no header', {}, 4);

    step('A second v2 instance registers; then app-v2-a deregisters');
    await mesh.addBackend({ id: 'app-v2-b', version: 'v2' });
    await waitUntil((o) => 'id' in o && o.id === 'app-v2-b', { version: 'v2' });
    await show('header version: v2', { version: 'v2' }, 6);
    await mesh.removeBackend('app-v2-a');
    // app-v2-b already answered before: ten in a row show that app-v2-a is gone.
    await waitUntil((o) => 'id' in o && o.id === 'app-v2-b', { version: 'v2' }, 10);
    await show('header version: v2', { version: 'v2' }, 6);

    step('app v2 may only call user v3: one policy key, no application code');
    for (const [id, version] of [
      ['user-v1', 'v1'],
      ['user-v3', 'v3'],
    ])
      await mesh.addBackend({ service: 'user', id, version });
    target = 'xds:///user';
    console.log('  this client is app v2: its bootstrap has node.metadata {"service":"app","version":"v2"}');
    await waitUntil((o) => 'id' in o && o.version === 'v1', { version: 'v1' });
    await show('user, header version: v1', { version: 'v1' }, 4);
    const pin = { routes: [{ match: { caller: { service: 'app', version: 'v2' } }, version: 'v3' }] };
    console.log(`  etcdctl put /xds/policies/user '${JSON.stringify(pin)}'`);
    await mesh.putPolicy('user', pin);
    await waitUntil((o) => 'id' in o && o.version === 'v3', { version: 'v1' }, 10);
    await show('user, pinned, header version: v1', { version: 'v1' }, 4);
    await show('user, pinned, no header', {}, 4);
    for (const args of [
      ['--caller', 'service=app', '--caller', 'version=v2', '-H', 'version:v1'],
      ['-H', 'version:v1'],
    ]) {
      console.log(`\n  $ etcd-xds explain user ${args.join(' ')}`);
      const explained = await runCli(['explain', 'user', ...args, '--admin', mesh.server.adminUrl]);
      console.log(`${explained.stdout.replace(/^/gm, '    ').trimEnd()}\n    (exit ${explained.code})`);
    }
    await mesh.deletePolicy('user');
    await waitUntil((o) => 'id' in o && o.version === 'v1', { version: 'v1' }, 10);
    await show('policy deleted: header version: v1', { version: 'v1' }, 4);

    step('What the server knows (GET /debug/clients)');
    const { body } = await mesh.server.admin<{
      clients: {
        node: { id: string };
        callerLabels: Record<string, string>;
        subscriptions: Record<string, { names: string[] }>;
      }[];
    }>('/debug/clients');
    for (const c of body.clients) {
      console.log(
        `  node ${c.node.id} ${JSON.stringify(c.callerLabels)}: ${Object.entries(c.subscriptions)
          .map(([t, s]) => `${t} ${[...s.names].sort().join(' ')}`)
          .join(' | ')}`,
      );
    }
    console.log('\nDone. Every answer above came through etcd → etcd-xds → xDS → a stock gRPC client.');
  } finally {
    for (const client of clients.values()) client.close();
    await mesh.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
