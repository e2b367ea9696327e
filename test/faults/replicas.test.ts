// Two etcd-xds replicas over one etcd, behind one address (a TCP proxy standing in for a
// Kubernetes Service): identical resources, and clients that fail over without a failed call
// when a replica is killed, stopped, or restarted in a rolling restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { grpcBootstrap } from '../../src/cli/bootstrap';
import { assertAnsweredBy } from '../../testkit/call-results';
import { type EtcdProcess } from '../../testkit/etcd';
import { CallLoad } from '../../testkit/load';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { RawAdsClient } from '../../testkit/raw-ads-client';
import { ServerProcess } from '../../testkit/server-process';
import { TcpProxy } from '../../testkit/tcp-proxy';
import { XdsClientProcess, type ClientLanguage } from '../../testkit/xds-client-process';

const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

interface Dump {
  catalog: { revision: number } | null;
  resources: Record<string, { versionInfo: string; resources: { name: string; version: string }[] }> | null;
}

describe('two replicas behind one address', () => {
  let mesh: Mesh;
  let etcd: EtcdProcess;
  let proxy: TcpProxy;
  const ports: number[] = [];
  const replicas: (ServerProcess | undefined)[] = [undefined, undefined];
  const clients: XdsClientProcess[] = [];
  const loads: CallLoad[] = [];
  let nextId = 1;

  const startReplica = async (i: number): Promise<ServerProcess> => {
    replicas[i] = await ServerProcess.start([
      '--etcd',
      etcd.url,
      '--port',
      String(ports[i]),
      '--debounce-ms',
      '20',
    ]);
    return replicas[i];
  };

  /** Registers a new v1 instance and waits until every client routes to it; returns how long that took. */
  const changeReachesClients = async (): Promise<number> => {
    const id = `n${nextId++}`;
    const started = performance.now();
    await mesh.addBackend({ id, version: 'v1' });
    for (const client of clients) {
      await eventually(
        () =>
          client
            .call('xds:///app', { metadata: { version: 'v2' }, count: 1 })
            .then(() => client.call('xds:///app', { count: 30 })),
        (r) =>
          assert.ok(
            r.some((x) => x.ok && x.id === id),
            `${client.language} does not see ${id} yet`,
          ),
        { timeoutMs: 20_000 },
      );
    }
    return performance.now() - started;
  };

  before(async () => {
    // The mesh's own server is not used by clients here; its etcd is shared by both replicas.
    mesh = await Mesh.start();
    etcd = mesh.etcd;
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await mesh.addBackend({ id: 'b1', version: 'v2' });
    ports.push(await freePort(), await freePort());
    await startReplica(0);
    await startReplica(1);
    proxy = await TcpProxy.start(ports);
    for (const language of ['grpc-js', 'python'] satisfies ClientLanguage[]) {
      clients.push(
        await XdsClientProcess.start(
          language,
          grpcBootstrap({ servers: [proxy.address], nodeId: `${language}-ha` }),
        ),
      );
    }
    for (const client of clients) {
      await eventually(
        () => client.call('xds:///app', { metadata: { version: 'v2' }, count: 3 }),
        (r) => assertAnsweredBy(r, ['b1']),
      );
      loads.push(new CallLoad(client, 'xds:///app', { version: 'v2' }));
    }
  });

  after(async () => {
    for (const load of loads) await load.stop();
    for (const client of clients) await client.stop();
    await proxy?.stop();
    for (const replica of replicas) await replica?.stop().catch(() => undefined);
    await mesh?.stop();
  });

  it('serve byte-identical resources and versions at the same etcd revision, for every flavour', async () => {
    // Make each replica build the Envoy and degraded flavours too.
    const raws = replicas.flatMap((replica) =>
      ['envoy', 'grpc-no-ring-hash'].map((flavour) => {
        const raw = new RawAdsClient(replica!.xdsAddress, {
          id: `flavour-${flavour}`,
          metadata: { fields: { 'etcd-xds.flavour': { stringValue: flavour } } },
        });
        raw.send({ type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', resource_names: [] });
        return raw;
      }),
    );
    try {
      for (const raw of raws) await raw.next();
      for (const flavour of ['grpc', 'envoy', 'grpc-no-ring-hash']) {
        const dumps = await eventually(
          () => Promise.all(replicas.map((r) => r!.admin<Dump>(`/debug/config_dump?flavour=${flavour}`))),
          ([a, b]) => assert.equal(a.body.catalog?.revision, b.body.catalog?.revision),
        );
        const [a, b] = dumps.value.map((d) => d.body.resources);
        assert.ok(a && Object.keys(a).length === 4, `${flavour} resources missing`);
        assert.deepEqual(a, b, `${flavour}: the replicas differ`);
      }
    } finally {
      for (const raw of raws) raw.close();
    }
  });

  it('serve byte-identical route configurations to clients with equal caller labels', async () => {
    const pin = { routes: [{ match: { caller: { service: 'web', version: 'v2' } }, version: 'v2' }] };
    const revision = await mesh.putPolicy('app', pin);
    await eventually(
      () => Promise.all(replicas.map((r) => r!.admin<Dump>('/debug/config_dump?type=RDS'))),
      (dumps) => {
        for (const dump of dumps) assert.ok((dump.body.catalog?.revision ?? 0) >= revision);
      },
    );
    const routeOf = async (replica: ServerProcess, id: string, labels: Record<string, string>) => {
      const fields = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { stringValue: v }]));
      const raw = new RawAdsClient(replica.xdsAddress, { id, metadata: { fields } });
      try {
        raw.send({ type_url: ROUTE_TYPE, resource_names: ['app'] });
        const response = await raw.next();
        assert.equal(response.resources.length, 1);
        return {
          version: response.version_info,
          bytes: Buffer.from(response.resources[0].value).toString('hex'),
        };
      } finally {
        raw.close();
      }
    };
    try {
      // Two pods of web v2 (a label no policy reads differs) on different replicas.
      const a = await routeOf(replicas[0]!, 'web-1', { service: 'web', version: 'v2', pod: 'web-1' });
      const b = await routeOf(replicas[1]!, 'web-2', { service: 'web', version: 'v2', pod: 'web-2' });
      assert.deepEqual(a, b, 'equal labels got different bytes or versions');
      const plain = await routeOf(replicas[1]!, 'other', { service: 'web', version: 'v1' });
      assert.notEqual(plain.bytes, a.bytes, 'the caller route is not in effect');
    } finally {
      await mesh.deletePolicy('app');
    }
  });

  for (const [what, fault] of [
    ['kill -9', 'SIGKILL'],
    ['SIGTERM', 'SIGTERM'],
  ] as const) {
    it(`${what} on the replica clients use: 0 failed calls, and changes keep coming through the other`, async () => {
      for (const load of loads) load.reset();
      // The proxy sends new connections to the first replica that accepts: replica 0.
      const victim = 0;
      const exit = await replicas[victim]!.signal(fault);
      replicas[victim] = undefined;
      const convergedMs = await changeReachesClients();
      await new Promise((resolve) => setTimeout(resolve, 500));
      console.log(
        `# ${what} (exit ${exit}): ${loads.map((l) => l.describe()).join('; ')}; a change reached every client ${convergedMs.toFixed(0)} ms after it was made`,
      );
      for (const load of loads)
        assert.deepEqual(load.failures, [], `${load.client.language} had failed calls`);
      await startReplica(victim);
    });
  }

  it('a rolling restart: 0 failed calls, and changes reach clients after every step', async () => {
    for (const load of loads) load.reset();
    const steps: string[] = [];
    for (const i of [0, 1]) {
      const exit = await replicas[i]!.signal('SIGTERM');
      assert.equal(exit, 0);
      steps.push(`replica ${i} stopped: change in ${(await changeReachesClients()).toFixed(0)} ms`);
      await startReplica(i);
      steps.push(`replica ${i} back: change in ${(await changeReachesClients()).toFixed(0)} ms`);
    }
    console.log(`# rolling restart: ${steps.join(', ')}; ${loads.map((l) => l.describe()).join('; ')}`);
    for (const load of loads) {
      assert.deepEqual(load.failures, [], `${load.client.language} had failed calls`);
      assert.ok(load.calls > 100);
    }
  });
});
