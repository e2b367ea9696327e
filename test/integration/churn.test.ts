// Registrations coming and going under real clients: leases revoked and expiring, new
// instances, bad values, and services that appear late or vanish and come back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertAllFailed, assertAnsweredBy } from '../../testkit/call-results';
import { eventually, Mesh } from '../../testkit/mesh';
import { XdsClientProcess, type ClientLanguage } from '../../testkit/xds-client-process';

const LANGUAGES: ClientLanguage[] = ['grpc-js', 'python'];
const UNAVAILABLE = 14;

interface ConfigDump {
  catalog: { rejected: { key: string; kind: string; code: string; error: string }[] };
  resources: Record<string, { versionInfo: string; resources: { name: string; version: string }[] }>;
}

describe('registrations changing under live clients', () => {
  let mesh: Mesh;
  const clients = new Map<ClientLanguage, XdsClientProcess>();

  /**
   * Runs `check` against every client until it holds, and asserts each converged in time. The
   * server pushes within milliseconds of the etcd event; the bound is about the clients.
   *
   * `afterFailingFast`: the calls were failing fast before the change. C-core then reads its xDS
   * stream only when the channel backup poller runs (GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS,
   * 5 s by default), so Python takes two to five poll periods to see the update (measured: 9.6 to
   * 15 s at 5 s in most runs, 19.9 s and 25.0 s once each; 3.5 s at 2 s, 1.7 s at 0.5 s; the
   * server's push logged 8–50 ms after the etcd write). Hence 40 s for it there. The server's part
   * is checked, to 1 s, by `assertPushedPromptly`.
   */
  async function converge(
    what: string,
    target: string,
    metadata: Record<string, string>,
    check: (results: Awaited<ReturnType<XdsClientProcess['call']>>) => void,
    { afterFailingFast = false } = {},
  ): Promise<void> {
    for (const [language, client] of clients) {
      const boundMs = afterFailingFast && language === 'python' ? 40_000 : 5_000;
      const { elapsedMs } = await eventually(
        () => client.call(target, { metadata, count: 8, deadlineMs: 2_000 }),
        check,
        { intervalMs: 20, timeoutMs: boundMs + 5_000 },
      ).catch(async (error: unknown) => {
        // Tell a client that did not converge from a server that did not push: what each stream
        // was last sent. (A C-core client holds an ADS stream only while it has a channel open.)
        const { body } = await mesh.server.admin<{ clients: unknown[] }>('/debug/clients');
        console.log(`# ${what}: ${language} did not converge; the server's streams: ${JSON.stringify(body)}`);
        throw error;
      });
      console.log(`# ${what}: ${language} converged in ${elapsedMs.toFixed(0)} ms`);
      assert.ok(elapsedMs < boundMs, `${language} took ${elapsedMs.toFixed(0)} ms (bound ${boundMs} ms)`);
    }
  }

  /** Every client was sent the EDS resource `name` within 1 s after `writtenAt` (epoch ms). */
  async function assertPushedPromptly(name: string, writtenAt: number): Promise<void> {
    interface Clients {
      clients: {
        node: { id: string } | null;
        subscriptions: Record<string, { lastSent: { at: string; resources: Record<string, string> } | null }>;
      }[];
    }
    const { body } = await mesh.server.admin<Clients>('/debug/clients');
    assert.equal(body.clients.length, clients.size);
    for (const client of body.clients) {
      const sent = client.subscriptions.EDS?.lastSent;
      assert.ok(sent && name in sent.resources, `EDS ${name} was never sent to ${client.node?.id}`);
      const delayMs = Date.parse(sent.at) - writtenAt;
      console.log(`# EDS ${name} pushed to ${client.node?.id} ${delayMs} ms after the etcd write`);
      assert.ok(delayMs >= 0 && delayMs < 1_000, `pushed ${delayMs} ms after the write`);
    }
  }

  before(async () => {
    mesh = await Mesh.start();
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await mesh.addBackend({ id: 'a2', version: 'v1' });
    await mesh.addBackend({ id: 'b1', version: 'v2' });
    for (const language of LANGUAGES)
      clients.set(language, await XdsClientProcess.start(language, mesh.bootstrap(`${language}-client`)));
    await converge('initial config', 'xds:///app', { version: 'v1' }, (r) =>
      assertAnsweredBy(r, ['a1', 'a2']),
    );
  });

  after(async () => {
    for (const client of clients.values()) await client.stop();
    await mesh?.stop();
  });

  it('a revoked lease removes the instance from every client within seconds', async () => {
    await mesh.removeBackend('a2');
    await converge('lease revoked', 'xds:///app', { version: 'v1' }, (r) => assertAnsweredBy(r, ['a1']));
  });

  it('a new instance reaches every client within seconds', async () => {
    await mesh.addBackend({ id: 'a3', version: 'v1' });
    await converge('instance added', 'xds:///app', { version: 'v1' }, (r) =>
      assertAnsweredBy(r, ['a1', 'a3']),
    );
  });

  it('an expired lease (registrar gone without deregistering) removes the instance', async () => {
    const running = await mesh.addBackend({ id: 'a4', version: 'v1', ttlSeconds: 2 });
    await converge('short-lease instance added', 'xds:///app', { version: 'v1' }, (r) =>
      assertAnsweredBy(r, ['a1', 'a3', 'a4']),
    );
    // Stop keeping the lease alive without revoking it, as a crashed process would.
    mesh.backends.delete('a4');
    const lease = (running.registrar as unknown as { lease: { release(): void } }).lease;
    lease.release();
    await converge('lease expired', 'xds:///app', { version: 'v1' }, (r) =>
      assertAnsweredBy(r, ['a1', 'a3']),
    );
    await running.backend.stop();
  });

  it('a new version becomes routable, and unroutable again when its last instance goes', async () => {
    await mesh.addBackend({ id: 'c1', version: 'v3' });
    await converge('version v3 added', 'xds:///app', { version: 'v3' }, (r) => assertAnsweredBy(r, ['c1']), {
      afterFailingFast: true,
    });
    await mesh.removeBackend('c1');
    await converge('version v3 removed', 'xds:///app', { version: 'v3' }, (r) =>
      assertAllFailed(r, UNAVAILABLE),
    );
  });

  it('a bad registration is skipped, logged by key, counted, shown, and changes nothing else', async () => {
    const before = (await mesh.server.admin<ConfigDump>('/debug/config_dump')).body;
    await mesh.kv.put('/services/app/broken').value('{"name":"app","address":"not-an-address"}');
    await mesh.kv.put('/services/app/not-json').value('{oops');
    const { value: dump } = await eventually(
      async () => (await mesh.server.admin<ConfigDump>('/debug/config_dump')).body,
      (d) => assert.equal(d.catalog.rejected.length, 2),
    );
    assert.deepEqual(
      dump.catalog.rejected.map((r) => [r.key, r.code]),
      [
        ['/services/app/broken', 'EXDS_BAD_REGISTRATION'],
        ['/services/app/not-json', 'EXDS_BAD_REGISTRATION'],
      ],
    );
    assert.deepEqual(dump.resources, before.resources, 'no resource changed');
    const warnings = mesh.server.log.lines.filter((l) => l.msg === 'skipping invalid registration');
    assert.deepEqual(
      warnings.map((l) => l.key),
      ['/services/app/broken', '/services/app/not-json'],
    );
    assert.match(String(warnings[0].error), /address "not-an-address" must be IP:port/);
    const metrics = (await mesh.server.admin<string>('/metrics')).body;
    assert.match(metrics, /^etcd_xds_invalid_registrations 2$/m);
    assert.match(metrics, /^etcd_xds_invalid_registrations_total 2$/m);
    await converge('after bad registrations', 'xds:///app', { version: 'v1' }, (r) =>
      assertAnsweredBy(r, ['a1', 'a3']),
    );
    await mesh.kv.delete().key('/services/app/broken');
    await mesh.kv.delete().key('/services/app/not-json');
  });

  it('a bad policy leaves the service on the defaults, and fixing it applies live', async () => {
    await mesh.putPolicy('app', { defaultVersion: 'v2' });
    await converge('policy applied', 'xds:///app', {}, (r) => assertAnsweredBy(r, ['b1']));
    await mesh.putPolicy('app', { defaultVersion: 'v2', bogus: true });
    await converge('bad policy → defaults', 'xds:///app', {}, (r) => assertAnsweredBy(r, ['a1', 'a3', 'b1']));
    const line = await mesh.server.log.waitFor((l) => l.msg.startsWith('ignoring invalid policy'));
    assert.equal(line.key, '/xds/policies/app');
    assert.match(String(line.error), /bogus/);
    await mesh.putPolicy('app', { defaultVersion: 'v1' });
    await converge('policy fixed', 'xds:///app', {}, (r) => assertAnsweredBy(r, ['a1', 'a3']));
    await mesh.deletePolicy('app');
  });

  it('a client that dials a service before it is registered gets it once it appears', async () => {
    for (const [language, client] of clients) {
      const early = await client.call('xds:///late', { count: 1, deadlineMs: 1_500 });
      assert.equal(early[0].ok, false, `${language}: a call to an unregistered service cannot succeed`);
    }
    const writtenAt = Date.now();
    await mesh.addBackend({ service: 'late', id: 'l1', version: 'v1' });
    await converge('late service registered', 'xds:///late', {}, (r) => assertAnsweredBy(r, ['l1']), {
      afterFailingFast: true,
    });
    await assertPushedPromptly('late', writtenAt);
  });

  it('a service whose every instance goes away fails fast and recovers when one returns', async () => {
    await mesh.addBackend({ service: 'solo', id: 's1', version: 'v1' });
    await converge('solo registered', 'xds:///solo', {}, (r) => assertAnsweredBy(r, ['s1']));
    await mesh.removeBackend('s1');
    await converge('solo gone', 'xds:///solo', {}, (r) => assertAllFailed(r, UNAVAILABLE));
    const writtenAt = Date.now();
    await mesh.addBackend({ service: 'solo', id: 's2', version: 'v1' });
    await converge('solo back', 'xds:///solo', {}, (r) => assertAnsweredBy(r, ['s2']), {
      afterFailingFast: true,
    });
    await assertPushedPromptly('solo', writtenAt);
  });
});
