// The state-of-the-world protocol rules, message by message, with a raw client (no xDS library)
// against the real server and a real etcd.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../src/proto/xds-types';
import { useMesh } from '../../testkit/hooks';
import { RawAdsClient, resourceNames, subscribeAndAck } from '../../testkit/raw-ads-client';

describe('state-of-the-world ADS, message by message', () => {
  const fixture = useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await fixture.mesh.addBackend({ id: 'b1', version: 'v2' });
    await fixture.mesh.addBackend({ service: 'other', id: 'o1', version: 'v1' });
  });
  const connect = (id: string): RawAdsClient =>
    fixture.track(new RawAdsClient(fixture.mesh.server.xdsAddress, { id, user_agent_name: 'raw' }));

  it('answers the first request of every type, with a nonce, a version and the type', async () => {
    const client = connect('first');
    const seen = new Set<string>();
    for (const [type, requested] of [
      [LISTENER, ['app']],
      [ROUTE, ['app']],
      [CLUSTER, ['app/v1']],
      [ENDPOINT, ['nope']],
    ] as const) {
      client.send({ type_url: type.typeUrl, resource_names: [...requested] });
      const response = await client.next();
      assert.equal(response.type_url, type.typeUrl);
      assert.match(response.version_info, /^[0-9a-f]{16}$/);
      assert.ok(response.nonce !== '' && !seen.has(response.nonce), 'a fresh nonce');
      seen.add(response.nonce);
      assert.equal(response.control_plane?.identifier, 'etcd-xds');
      assert.deepEqual(resourceNames(response), type === ENDPOINT ? [] : [...requested]);
    }
  });

  it('ignores a request carrying a stale nonce', async () => {
    const client = connect('stale');
    const first = await subscribeAndAck(client, CLUSTER, ['app']);
    client.send({ type_url: CLUSTER.typeUrl, resource_names: ['app', 'other'], response_nonce: first.nonce });
    const second = await client.next();
    assert.deepEqual(resourceNames(second), ['app', 'other']);
    // Still answering `first`: stale, even though its names differ.
    client.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'], response_nonce: first.nonce });
    assert.ok(await client.silentFor(500));
  });

  it('a NACK keeps the last good version: nothing is resent, the next change is', async () => {
    const client = connect('nack');
    const first = await subscribeAndAck(client, ENDPOINT, ['app/v1']);
    client.send({
      type_url: ENDPOINT.typeUrl,
      resource_names: ['app/v1'],
      response_nonce: first.nonce,
      version_info: first.version_info,
      error_detail: { code: 3, message: 'rejected on purpose' },
    });
    assert.ok(await client.silentFor(1_000), 'no resend loop after a NACK');
    await fixture.mesh.addBackend({ id: 'a2', version: 'v1' });
    const next = await client.next();
    assert.deepEqual(resourceNames(next), ['app/v1']);
    assert.notEqual(next.version_info, first.version_info);
    await fixture.mesh.removeBackend('a2');
    // Wait for the removal's push, so it cannot land in the next test's exchange.
    assert.deepEqual(resourceNames(await client.next()), ['app/v1']);
  });

  it('adding and removing names: full state for LDS/CDS, new names only for RDS/EDS', async () => {
    const client = connect('resubscribe');
    const cds = await subscribeAndAck(client, CLUSTER, ['app']);
    client.send({ type_url: CLUSTER.typeUrl, resource_names: ['app', 'app/v1'], response_nonce: cds.nonce });
    assert.deepEqual(resourceNames(await client.next()), ['app', 'app/v1']);
    const eds = await subscribeAndAck(client, ENDPOINT, ['app']);
    client.send({ type_url: ENDPOINT.typeUrl, resource_names: ['app', 'app/v2'], response_nonce: eds.nonce });
    const added = await client.next();
    assert.deepEqual(resourceNames(added), ['app/v2'], 'an unchanged, newly subscribed name is sent');
    client.send({ type_url: ENDPOINT.typeUrl, resource_names: ['app'], response_nonce: added.nonce });
    assert.deepEqual(resourceNames(await client.next()), [], 'a removal is answered, with nothing to send');
  });

  it('remembers names that do not exist yet and sends them when they appear', async () => {
    const client = connect('later');
    assert.deepEqual(resourceNames(await subscribeAndAck(client, LISTENER, ['later'])), []);
    assert.deepEqual(resourceNames(await subscribeAndAck(client, ENDPOINT, ['later/v7'])), []);
    await fixture.mesh.addBackend({ service: 'later', id: 'l1', version: 'v7' });
    const first = await client.next();
    const second = await client.next();
    assert.deepEqual(
      [first, second].map((r) => [r.type_url, resourceNames(r)]),
      [
        [ENDPOINT.typeUrl, ['later/v7']],
        [LISTENER.typeUrl, ['later']],
      ],
    );
  });

  it('a change to one cluster resends every subscribed cluster (CDS is full state)', async () => {
    const client = connect('fullstate');
    await subscribeAndAck(client, CLUSTER, ['app', 'app/v1', 'other']);
    await fixture.mesh.putPolicy('app', { lbPolicy: 'ring_hash', hashHeader: 'x-user' });
    const response = await client.next();
    assert.deepEqual(resourceNames(response), ['app', 'app/v1', 'other']);
    await fixture.mesh.deletePolicy('app');
    await client.next();
  });

  it('orders pushes cluster → endpoints → routes for additions, and removes clusters last', async () => {
    const client = connect('order');
    await subscribeAndAck(client, CLUSTER, []); // wildcard, as Envoy does
    await subscribeAndAck(client, ENDPOINT, ['app/v3']);
    await subscribeAndAck(client, ROUTE, ['app']);
    const read = async (count: number): Promise<string[]> => {
      const types: string[] = [];
      for (let i = 0; i < count; i++) {
        const response = await client.next();
        types.push(response.type_url.split('.').pop()!);
        client.send({
          type_url: response.type_url,
          response_nonce: response.nonce,
          version_info: response.version_info,
          resource_names:
            response.type_url === CLUSTER.typeUrl
              ? []
              : response.type_url === ENDPOINT.typeUrl
                ? ['app/v3']
                : ['app'],
        });
      }
      return types;
    };
    await fixture.mesh.addBackend({ id: 'c1', version: 'v3' });
    assert.deepEqual(await read(3), ['Cluster', 'ClusterLoadAssignment', 'RouteConfiguration']);
    await fixture.mesh.removeBackend('c1');
    assert.deepEqual(await read(2), ['RouteConfiguration', 'Cluster']);
  });

  it('wildcard: a first empty request and "*" both get every resource; an empty list after names gets none', async () => {
    const legacy = connect('wildcard-legacy');
    assert.deepEqual(resourceNames(await subscribeAndAck(legacy, LISTENER, [])), ['app', 'later', 'other']);
    const explicit = connect('wildcard-star');
    const all = await subscribeAndAck(explicit, CLUSTER, ['*']);
    assert.ok(resourceNames(all).includes('app/v2') && resourceNames(all).includes('other/v1'));
    const named = connect('unsubscribe');
    const cds = await subscribeAndAck(named, CLUSTER, ['app']);
    named.send({ type_url: CLUSTER.typeUrl, resource_names: [], response_nonce: cds.nonce });
    assert.deepEqual(resourceNames(await named.next()), []);
  });

  it('logs a client that connects and one that leaves, with how and after how long', async () => {
    const client = connect('leaver');
    await subscribeAndAck(client, CLUSTER, ['app']);
    const connected = await fixture.mesh.server.log.waitFor(
      (line) => line.msg === 'xDS client connected' && line.node === 'leaver',
    );
    client.close();
    const left = await fixture.mesh.server.log.waitFor(
      (line) => line.msg === 'xDS client disconnected' && line.node === 'leaver',
    );
    assert.equal(left.stream, connected.stream);
    assert.equal(left.client, 'other');
    assert.match(String(left.how), /the stream ended|cancelled by the client/);
    assert.ok(typeof left.connectedSeconds === 'number' && left.connectedSeconds >= 0);
  });

  it('the per-type services serve their own type and ignore others', async () => {
    const cds = new RawAdsClient(
      fixture.mesh.server.xdsAddress,
      { id: 'cds-only', user_agent_name: 'raw' },
      'CDS',
    );
    fixture.track(cds);
    cds.send({ type_url: '', resource_names: ['app'] });
    const response = await cds.next();
    assert.equal(response.type_url, CLUSTER.typeUrl);
    assert.deepEqual(resourceNames(response), ['app']);
    cds.send({ type_url: LISTENER.typeUrl, resource_names: ['app'] });
    assert.ok(await cds.silentFor(500), 'LDS is not served on the CDS service');
    const eds = new RawAdsClient(
      fixture.mesh.server.xdsAddress,
      { id: 'eds-only', user_agent_name: 'raw' },
      'EDS',
    );
    fixture.track(eds);
    eds.send({ type_url: ENDPOINT.typeUrl, resource_names: ['app/v1'] });
    assert.deepEqual(resourceNames(await eds.next()), ['app/v1']);
  });
});

// Its own mesh: 2,000 clients connecting and leaving would fill the shared one's connect and
// disconnect log allowance (100 lines per 10 s) and slow its other tests.
describe('state-of-the-world ADS while a push goes out to 2,000 streams', () => {
  const fixture = useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await mesh.addBackend({ id: 'b1', version: 'v2' });
  });
  const connect = (id: string): RawAdsClient =>
    fixture.track(new RawAdsClient(fixture.mesh.server.xdsAddress, { id, user_agent_name: 'raw' }));

  it('requests that arrive while a push is still going out are handled after it, in order', async () => {
    // Enough streams that the push takes several event-loop turns, so replies to its first
    // slices arrive (and plain ACKs are held) while later streams are still being pushed to.
    const clients = Array.from({ length: 2_000 }, (_, i) => connect(`busy-${i}`));
    const before = await Promise.all(clients.map((client) => subscribeAndAck(client, ENDPOINT, ['app/v1'])));
    const replies = clients.map(async (client, i) => {
      const pushed = await client.next();
      const ack = {
        type_url: ENDPOINT.typeUrl,
        response_nonce: pushed.nonce,
        version_info: pushed.version_info,
      };
      client.send({ ...ack, resource_names: ['app/v1'] });
      // Every tenth client also subscribes to one more name right behind its ACK.
      if (i % 10 === 0) client.send({ ...ack, resource_names: ['app/v1', 'app/v2'] });
      return pushed;
    });
    await fixture.mesh.addBackend({ id: 'a3', version: 'v1' });
    const pushed = await Promise.all(replies);
    for (const [i, response] of pushed.entries()) {
      assert.notEqual(response.version_info, before[i].version_info);
      assert.deepEqual(resourceNames(response), ['app/v1']);
    }
    // The subscriptions behind the ACKs are answered with the new name alone (EDS is incremental).
    for (let i = 0; i < clients.length; i += 10) {
      assert.deepEqual(resourceNames(await clients[i].next()), ['app/v2'], `client ${i}`);
    }
    // …and every ACK was recorded: each stream's last ACK is the version it was pushed.
    interface Clients {
      clients: {
        node: { id: string } | null;
        subscriptions: Record<string, { names: string[]; lastAck: { versionInfo: string } | null }>;
      }[];
    }
    const { clients: views } = (await fixture.mesh.server.admin<Clients>('/debug/clients')).body;
    const busy = views.filter((view) => view.node?.id.startsWith('busy-'));
    assert.equal(busy.length, clients.length);
    for (const view of busy) {
      const i = Number(view.node!.id.slice('busy-'.length));
      assert.equal(view.subscriptions.EDS.lastAck?.versionInfo, pushed[i].version_info, view.node!.id);
      assert.deepEqual(view.subscriptions.EDS.names, i % 10 === 0 ? ['app/v1', 'app/v2'] : ['app/v1']);
    }
    for (const client of clients) client.close();
  });
});
