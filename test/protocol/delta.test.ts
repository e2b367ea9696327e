// The incremental (delta) protocol rules, message by message, with a raw client against the
// real server and a real etcd.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeltaDiscoveryResponse__Output } from '../../src/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import { CLUSTER, ENDPOINT, LISTENER } from '../../src/proto/xds-types';
import { useMesh } from '../../testkit/hooks';
import { RawDeltaClient, resourceNames } from '../../testkit/raw-ads-client';

/** The names and versions in a delta response. */
const versions = (response: DeltaDiscoveryResponse__Output): Record<string, string> =>
  Object.fromEntries(response.resources.map((r) => [r.name, r.version]));

/** Checks each delta Resource's name matches the resource inside it. */
function assertConsistent(response: DeltaDiscoveryResponse__Output): void {
  assert.deepEqual(
    resourceNames({ resources: response.resources.map((r) => r.resource!) }),
    response.resources.map((r) => r.name),
  );
}

describe('delta ADS, message by message', () => {
  const fixture = useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await fixture.mesh.addBackend({ id: 'b1', version: 'v2' });
    await fixture.mesh.addBackend({ service: 'other', id: 'o1', version: 'v1' });
  });
  const connect = (id: string, service: 'ADS' | 'CDS' = 'ADS'): RawDeltaClient =>
    fixture.track(
      new RawDeltaClient(fixture.mesh.server.xdsAddress, { id, user_agent_name: 'raw-delta' }, service),
    );
  const ack = (client: RawDeltaClient, response: DeltaDiscoveryResponse__Output): void =>
    client.send({ type_url: response.type_url, response_nonce: response.nonce });

  it('sends what is subscribed, with versions; an ACK gets no answer; new names only get the new ones', async () => {
    const client = connect('subscribe');
    client.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: ['app/v1'] });
    const first = await client.next();
    assertConsistent(first);
    assert.deepEqual(Object.keys(versions(first)), ['app/v1']);
    assert.match(first.resources[0].version, /^[0-9a-f]{16}$/);
    assert.equal(first.control_plane?.identifier, 'etcd-xds');
    ack(client, first);
    assert.ok(await client.silentFor(500));
    client.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: ['app/v2'] });
    const second = await client.next();
    assert.deepEqual(Object.keys(versions(second)), ['app/v2']);
    assert.notEqual(second.nonce, first.nonce);
    ack(client, second);
    client.send({ type_url: ENDPOINT.typeUrl, resource_names_unsubscribe: ['app/v2'] });
    assert.ok(await client.silentFor(500), 'an unsubscription needs no answer');
  });

  it('a subscribed name that does not exist comes back in removed_resources, then as a resource when it appears', async () => {
    const client = connect('later');
    client.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: ['later/v1'] });
    const absent = await client.next();
    assert.deepEqual([absent.resources, absent.removed_resources], [[], ['later/v1']]);
    ack(client, absent);
    await fixture.mesh.addBackend({ service: 'later', id: 'l1', version: 'v1' });
    const present = await client.next();
    assert.deepEqual(Object.keys(versions(present)), ['later/v1']);
    ack(client, present);
    await fixture.mesh.removeBackend('l1');
    const removed = await client.next();
    assert.deepEqual([removed.resources, removed.removed_resources], [[], ['later/v1']]);
  });

  it('wildcard: a first empty LDS/CDS request and "*" get everything; unsubscribing "*" stops it', async () => {
    const legacy = connect('wildcard-legacy');
    legacy.send({ type_url: LISTENER.typeUrl });
    assert.deepEqual(Object.keys(versions(await legacy.next())), ['app', 'other']);
    const explicit = connect('wildcard-star');
    explicit.send({ type_url: CLUSTER.typeUrl, resource_names_subscribe: ['*'] });
    const all = await explicit.next();
    assert.deepEqual(Object.keys(versions(all)), ['app', 'app/v1', 'app/v2', 'other', 'other/v1']);
    ack(explicit, all);
    explicit.send({ type_url: CLUSTER.typeUrl, resource_names_unsubscribe: ['*'] });
    await fixture.mesh.addBackend({ service: 'fresh', id: 'f1', version: 'v1' });
    assert.ok(await explicit.silentFor(1_000), 'no longer a wildcard subscriber');
    await fixture.mesh.removeBackend('f1');
  });

  it('on reconnect, initial_resource_versions means only what changed (or went away) is sent', async () => {
    const first = connect('reconnect-1');
    first.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: ['app/v1', 'app/v2', 'other/v1'] });
    const held = versions(await first.next());
    first.close();
    // While the client is away: app/v1 changes, app/v2 goes away, other/v1 stays.
    await fixture.mesh.addBackend({ id: 'a2', version: 'v1' });
    await fixture.mesh.removeBackend('b1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = connect('reconnect-2');
    again.send({
      type_url: ENDPOINT.typeUrl,
      resource_names_subscribe: ['app/v1', 'app/v2', 'other/v1'],
      initial_resource_versions: held,
    });
    const response = await again.next();
    assert.deepEqual(Object.keys(versions(response)), ['app/v1']);
    assert.notEqual(versions(response)['app/v1'], held['app/v1']);
    assert.deepEqual(response.removed_resources, ['app/v2']);
    await fixture.mesh.addBackend({ id: 'b1', version: 'v2' });
    await fixture.mesh.removeBackend('a2');
  });

  it('a NACK is not answered with the same resources; the next change is sent', async () => {
    const client = connect('nack');
    client.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: ['other/v1'] });
    const first = await client.next();
    client.send({
      type_url: ENDPOINT.typeUrl,
      response_nonce: first.nonce,
      error_detail: { code: 3, message: 'no thanks' },
    });
    assert.ok(await client.silentFor(1_000));
    await fixture.mesh.addBackend({ service: 'other', id: 'o2', version: 'v1' });
    const next = await client.next();
    assert.deepEqual(Object.keys(versions(next)), ['other/v1']);
    assert.notEqual(versions(next)['other/v1'], versions(first)['other/v1']);
    await fixture.mesh.removeBackend('o2');
  });

  it('DeltaClusters serves clusters only', async () => {
    const client = connect('delta-cds', 'CDS');
    client.send({ type_url: CLUSTER.typeUrl, resource_names_subscribe: ['app'] });
    const response = await client.next();
    assert.equal(response.type_url, CLUSTER.typeUrl);
    assert.deepEqual(Object.keys(versions(response)), ['app']);
    client.send({ type_url: LISTENER.typeUrl, resource_names_subscribe: ['app'] });
    assert.ok(await client.silentFor(500));
  });
});
