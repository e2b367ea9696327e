// etcd unreachable for 30 s while real clients keep calling: they keep working on the last
// config, the server says it is stale, and once etcd is back it re-lists and converges fast.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { Registrar } from '../../src/register/registrar';
import { assertAnsweredBy } from '../../testkit/call-results';
import { startEchoBackend, type EchoBackend } from '../../testkit/echo-backend';
import { EtcdProcess } from '../../testkit/etcd';
import { CallLoad } from '../../testkit/load';
import { eventually } from '../../testkit/mesh';
import { ServerProcess } from '../../testkit/server-process';
import { XdsClientProcess, type ClientLanguage } from '../../testkit/xds-client-process';
import { grpcBootstrap } from '../../src/cli/bootstrap';

const OUTAGE_MS = Number(process.env.ETCD_XDS_OUTAGE_MS ?? 30_000);

interface Ready {
  ready: boolean;
  stale: boolean;
}

describe(`etcd unreachable for ${OUTAGE_MS / 1000} s`, () => {
  let etcd: EtcdProcess;
  let server: ServerProcess;
  const backends: EchoBackend[] = [];
  const registrars: Registrar[] = [];
  const clients: XdsClientProcess[] = [];
  let kv: Etcd3;

  before(async () => {
    etcd = await EtcdProcess.start();
    kv = new Etcd3({ hosts: etcd.url });
    server = await ServerProcess.start(['--etcd', etcd.url, '--debounce-ms', '20', '--max-delay-ms', '200']);
    for (const id of ['a1', 'a2']) {
      const backend = await startEchoBackend({ service: 'app', id, version: 'v1' });
      backends.push(backend);
      // A TTL longer than the outage: the registrations must survive it.
      registrars.push(
        await Registrar.register({
          etcd: kv,
          service: 'app',
          id,
          version: 'v1',
          address: backend.address,
          ttlSeconds: 90,
        }),
      );
    }
    for (const language of ['grpc-js', 'python'] satisfies ClientLanguage[]) {
      clients.push(
        await XdsClientProcess.start(
          language,
          grpcBootstrap({ servers: [server.xdsAddress], nodeId: `${language}-outage` }),
        ),
      );
    }
  });

  after(async () => {
    for (const client of clients) await client.stop();
    for (const registrar of registrars) await registrar.stop().catch(() => undefined);
    for (const backend of backends) await backend.stop();
    kv.close();
    await server.stop().catch(() => undefined);
    await etcd.stop();
  });

  it('clients keep calling with 0 failures, the server reports stale, and converges within 1 s of etcd returning', async () => {
    for (const client of clients) {
      await eventually(
        () => client.call('xds:///app', { count: 6 }),
        (r) => assertAnsweredBy(r, ['a1', 'a2']),
      );
    }
    const loads = clients.map((client) => new CallLoad(client, 'xds:///app'));
    const edsPushes = async (): Promise<number> => {
      const metrics = (await server.admin<string>('/metrics')).body;
      return Number(/^etcd_xds_pushes_total\{type="EDS"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    };
    const pushesBefore = await edsPushes();

    await etcd.halt();
    const outageStarted = performance.now();
    const { elapsedMs: staleAfterMs } = await eventually(
      () => server.admin<Ready>('/readyz'),
      (r) => {
        assert.equal(r.status, 200, 'a stale server stays ready: it serves the last known config');
        assert.equal(r.body.stale, true);
      },
      { timeoutMs: 20_000 },
    );
    const metrics = (await server.admin<string>('/metrics')).body;
    assert.match(metrics, /^etcd_xds_registry_stale 1$/m);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, OUTAGE_MS - (performance.now() - outageStarted))),
    );
    const staleSeconds = Number(
      /^etcd_xds_registry_stale_seconds (\S+)$/m.exec((await server.admin<string>('/metrics')).body)?.[1],
    );
    const pushesDuringOutage = (await edsPushes()) - pushesBefore;
    const duringOutage = loads.map((load) => ({
      language: load.client.language,
      calls: load.calls,
      failures: load.failures.length,
      by: Object.fromEntries(load.answeredBy),
    }));

    // etcd comes back; a change lands at once: a2 leaves, a3 arrives.
    await etcd.restart();
    const changer = new Etcd3({ hosts: etcd.url });
    const backend = await startEchoBackend({ service: 'app', id: 'a3', version: 'v1' });
    backends.push(backend);
    const changed = performance.now();
    await changer
      .put('/services/app/a3')
      .value(JSON.stringify({ name: 'app', id: 'a3', version: 'v1', address: backend.address }));
    await changer.delete().key(registrars[1].key);
    const converged: number[] = [];
    for (const client of clients) {
      await eventually(
        () => client.call('xds:///app', { count: 6 }),
        (r) => assertAnsweredBy(r, ['a1', 'a3']),
        { intervalMs: 10 },
      );
      converged.push(performance.now() - changed);
    }
    changer.close();
    for (const load of loads) await load.stop();

    console.log(
      `# etcd down ${(OUTAGE_MS / 1000).toFixed(0)} s; server reported stale after ${staleAfterMs.toFixed(0)} ms (stale_seconds reached ${staleSeconds})`,
    );
    for (const d of duringOutage)
      console.log(
        `# during the outage ${d.language}: ${d.calls} calls, ${d.failures} failed, answered by ${JSON.stringify(d.by)}`,
      );
    console.log(`# EDS pushes during the outage: ${pushesDuringOutage}`);
    console.log(
      `# after etcd returned: ${clients.map((c, i) => `${c.language} converged ${converged[i].toFixed(0)} ms after the change`).join(', ')}`,
    );

    for (const d of duringOutage) {
      assert.equal(d.failures, 0, `${d.language} had failed calls during the outage`);
      assert.ok(d.calls > 100, `${d.language} made too few calls to mean anything`);
      assert.deepEqual(
        Object.keys(d.by).sort(),
        ['a1', 'a2'],
        `${d.language} lost an endpoint during the outage`,
      );
    }
    assert.equal(pushesDuringOutage, 0, 'no endpoint update may reach clients while etcd is unreachable');
    assert.ok(staleSeconds > 0);
    for (const ms of converged) assert.ok(ms < 1_000, `converged ${ms.toFixed(0)} ms after the change`);
    const ready = await server.admin<Ready>('/readyz');
    assert.equal(ready.body.stale, false);
  });
});
