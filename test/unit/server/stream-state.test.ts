import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AliasEncodings, diffSnapshots, Snapshot } from '../../../src/cache/snapshot';
import type { DiscoveryRequest__Output } from '../../../src/generated/envoy/service/discovery/v3/DiscoveryRequest';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type XdsType } from '../../../src/proto/xds-types';
import { encodeDiscoveryResponse, type OutgoingResponse } from '../../../src/server/ads-service';
import { HeldChanges } from '../../../src/server/held-changes';
import { StreamState } from '../../../src/server/stream-state';
import { translateFor } from '../../../src/translate/flavours';
import { translateForGrpc } from '../../../src/translate/grpc/translate';
import { catalogOf, type InstanceSpec } from '../fixtures';

const aliases = new AliasEncodings();
const snapshotOf = (instances: InstanceSpec[], policies: Record<string, object> = {}): Snapshot =>
  Snapshot.encode(translateForGrpc(catalogOf(instances, policies)), aliases);

const V1: InstanceSpec = { id: 'a', version: 'v1', address: '10.0.0.1:80' };
const V2: InstanceSpec = { id: 'b', version: 'v2', address: '10.0.0.2:80' };
const OTHER: InstanceSpec = { service: 'other', id: 'o', version: 'v1', address: '10.0.9.1:80' };

function request(
  type: XdsType,
  names: string[],
  fields: { nonce?: string; version?: string; error?: string } = {},
): DiscoveryRequest__Output {
  return {
    version_info: fields.version ?? '',
    node: { id: 'test-node', user_agent_name: 'gRPC Node Pure JS' } as DiscoveryRequest__Output['node'],
    resource_names: names,
    type_url: type.typeUrl,
    response_nonce: fields.nonce ?? '',
    error_detail: fields.error === undefined ? null : { code: 3, message: fields.error, details: [] },
    resource_locators: [],
  };
}

const names = (response: OutgoingResponse | undefined): string[] =>
  response?.resources.map((r) => r.name) ?? [];

/** Subscribes to each type (in the order given) and ACKs every response. */
function subscribeAll(stream: StreamState, snapshot: Snapshot, subscriptions: [XdsType, string[]][]): void {
  for (const [type, subscribed] of subscriptions) {
    ack(stream, stream.handleRequest(request(type, subscribed), snapshot).response!, subscribed, snapshot);
  }
}

/** ACKs `response` with the same names. */
function ack(stream: StreamState, response: OutgoingResponse, subscribed: string[], snapshot: Snapshot) {
  return stream.handleRequest(
    request(response.type, subscribed, { nonce: response.nonce, version: response.versionInfo }),
    snapshot,
  );
}

describe('StreamState (state of the world)', () => {
  it('records what each type holds on its own, when several types ask for the same names', () => {
    // gRPC clients ask RDS, CDS and EDS for the same name: what one type holds is not another's.
    const snapshot = snapshotOf([V1]);
    for (const order of [
      [ROUTE, CLUSTER, ENDPOINT],
      [ENDPOINT, CLUSTER, ROUTE],
    ]) {
      const stream = new StreamState(1, 'peer', 0);
      for (const type of order) stream.handleRequest(request(type, ['app']), snapshot);
      for (const type of order)
        assert.deepEqual(
          [...stream.subscriptions.get(type)!.sent],
          [['app', snapshot.get(type, 'app')!.version]],
          type.short,
        );
    }
  });

  it('answers the first request of each type, even for names that do not exist yet', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1]);
    const lds = stream.handleRequest(request(LISTENER, ['app']), snapshot);
    assert.equal(lds.outcome, 'initial');
    assert.deepEqual(names(lds.response), ['app']);
    assert.equal(lds.response!.versionInfo, snapshot.typeVersion(LISTENER));
    const eds = stream.handleRequest(request(ENDPOINT, ['missing']), snapshot);
    assert.equal(eds.outcome, 'initial');
    assert.deepEqual(names(eds.response), []);
    assert.equal(stream.node?.id, 'test-node');
  });

  it('uses a new nonce for every response', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1]);
    const a = stream.handleRequest(request(LISTENER, ['app']), snapshot).response!;
    const b = stream.handleRequest(request(CLUSTER, ['app']), snapshot).response!;
    assert.notEqual(a.nonce, b.nonce);
  });

  it('a push carries the same nonce on every stream it goes to, so they share one encoding', () => {
    const before = snapshotOf([V1]);
    const after = snapshotOf([V1, { id: 'a2', version: 'v1', address: '10.0.0.3:80' }]);
    const streams = [new StreamState(1, 'peer', 0), new StreamState(2, 'peer', 0)];
    // Different histories: the second stream has had more responses (its counter is ahead).
    subscribeAll(streams[0], before, [[ENDPOINT, ['app', 'app/v1']]]);
    subscribeAll(streams[1], before, [
      [CLUSTER, ['app']],
      [ENDPOINT, ['app', 'app/v1']],
    ]);
    const changes = diffSnapshots(before, after);
    const [a, b] = streams.map((stream) =>
      stream.handleSnapshot(after, changes, before).find((r) => r.type === ENDPOINT)!,
    );
    assert.equal(a.nonce, b.nonce);
    assert.match(a.nonce, /^p\d+\.EDS\.u$/);
    assert.equal(encodeDiscoveryResponse(a), encodeDiscoveryResponse(b), 'one Buffer for both');
    // Nonces stay unique on each stream: the next push has another.
    const third = snapshotOf([V1]);
    const next = streams[0]
      .handleSnapshot(third, diffSnapshots(after, third), after)
      .find((r) => r.type === ENDPOINT)!;
    assert.notEqual(next.nonce, a.nonce);
  });

  it('an ACK records the version and sends nothing', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1]);
    const response = stream.handleRequest(request(CLUSTER, ['app']), snapshot).response!;
    const result = ack(stream, response, ['app'], snapshot);
    assert.equal(result.outcome, 'ack');
    assert.equal(result.response, undefined);
    assert.equal(stream.subscriptions.get(CLUSTER)!.ackedVersion, response.versionInfo);
  });

  it('tells a plain ACK of the latest response (which may wait) from requests that change something', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, V2]);
    const subscribed = ['app', 'app/v1'];
    const response = stream.handleRequest(request(ENDPOINT, subscribed), snapshot).response!;
    const reply = (names: string[], fields: { nonce?: string; error?: string } = {}) =>
      request(ENDPOINT, names, { nonce: response.nonce, version: response.versionInfo, ...fields });
    assert.equal(stream.isPlainAck(reply(subscribed)), true);
    assert.equal(stream.isPlainAck(reply(['app/v1', 'app'])), true, 'order does not matter');
    assert.equal(stream.isPlainAck(reply(['app', 'app/v2'])), false, 'other names');
    assert.equal(stream.isPlainAck(reply(['app', 'app'])), false, 'a duplicate leaves a name out');
    assert.equal(stream.isPlainAck(reply(['app'])), false, 'fewer names');
    assert.equal(stream.isPlainAck(reply(subscribed, { error: 'bad' })), false, 'a NACK');
    assert.equal(stream.isPlainAck(reply(subscribed, { nonce: '' })), false, 'no nonce');
    assert.equal(stream.isPlainAck(reply(subscribed, { nonce: 'old' })), false, 'a stale nonce');
    assert.equal(
      stream.isPlainAck(request(CLUSTER, ['app'], { nonce: response.nonce })),
      false,
      'another type',
    );
  });

  it('a NACK is recorded, the rejected version is not resent, and the next change is sent', () => {
    const stream = new StreamState(1, 'peer', 0, () => 42);
    const before = snapshotOf([V1]);
    const response = stream.handleRequest(request(CLUSTER, ['app']), before).response!;
    const nack = stream.handleRequest(
      request(CLUSTER, ['app'], { nonce: response.nonce, version: '', error: 'bad cluster' }),
      before,
    );
    assert.equal(nack.outcome, 'nack');
    assert.equal(nack.response, undefined);
    assert.deepEqual(stream.subscriptions.get(CLUSTER)!.lastNack, {
      rejectedVersion: response.versionInfo,
      nonce: response.nonce,
      code: 3,
      message: 'bad cluster',
      at: 42,
    });
    // The same snapshot again changes nothing for the stream: no resend loop.
    assert.deepEqual(stream.handleSnapshot(before, diffSnapshots(before, before)), []);
    const after = snapshotOf([V1], { app: { lbPolicy: 'ring_hash', hashHeader: 'x' } });
    const pushed = stream.handleSnapshot(after, diffSnapshots(before, after));
    assert.deepEqual(
      pushed.map((r) => r.type.short),
      ['CDS'],
    );
  });

  it('ignores requests carrying a stale nonce, even if their names changed', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, OTHER]);
    const first = stream.handleRequest(request(CLUSTER, ['app']), snapshot).response!;
    const second = stream.handleRequest(
      request(CLUSTER, ['app', 'other'], { nonce: first.nonce }),
      snapshot,
    ).response!;
    assert.deepEqual(names(second), ['app', 'other']);
    const stale = stream.handleRequest(request(CLUSTER, ['app'], { nonce: first.nonce }), snapshot);
    assert.equal(stale.outcome, 'stale');
    assert.equal(stale.response, undefined);
    assert.deepEqual([...stream.subscriptions.get(CLUSTER)!.names.keys()], ['app', 'other']);
  });

  it('full-state types answer a subscription change with every subscribed resource', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, OTHER]);
    const first = stream.handleRequest(request(LISTENER, ['app']), snapshot).response!;
    const result = stream.handleRequest(
      request(LISTENER, ['app', 'other'], { nonce: first.nonce }),
      snapshot,
    );
    assert.equal(result.outcome, 'resubscribe');
    assert.deepEqual(names(result.response), ['app', 'other']);
  });

  it('incremental types answer a subscription change with the newly subscribed names, unchanged or not', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, V2]);
    const first = stream.handleRequest(request(ENDPOINT, ['app/v1']), snapshot).response!;
    const result = stream.handleRequest(
      request(ENDPOINT, ['app/v1', 'app/v2'], { nonce: first.nonce }),
      snapshot,
    );
    assert.deepEqual(names(result.response), ['app/v2']);
    const dropped = stream.handleRequest(
      request(ENDPOINT, ['app/v2'], { nonce: result.response!.nonce }),
      snapshot,
    );
    assert.equal(dropped.outcome, 'resubscribe');
    assert.deepEqual(names(dropped.response), []);
    assert.deepEqual(dropped.delta?.removed, ['app/v1']);
  });

  it('adding an alias of a name already subscribed is a change and is answered', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1]);
    const first = stream.handleRequest(request(LISTENER, ['app']), snapshot).response!;
    const result = stream.handleRequest(
      request(LISTENER, ['app', 'app:50051'], { nonce: first.nonce }),
      snapshot,
    );
    assert.deepEqual(names(result.response), ['app', 'app:50051']);
    assert.deepEqual(result.delta?.added, [], 'the canonical name was already indexed');
  });

  it('remembers names that do not exist yet and sends them when they appear', () => {
    const stream = new StreamState(1, 'peer', 0);
    const empty = snapshotOf([OTHER]);
    const lds = stream.handleRequest(request(LISTENER, ['app']), empty).response!;
    assert.deepEqual(names(lds), []);
    ack(stream, lds, ['app'], empty);
    const eds = stream.handleRequest(request(ENDPOINT, ['app']), empty).response!;
    ack(stream, eds, ['app'], empty);
    const later = snapshotOf([OTHER, V1]);
    const pushed = stream.handleSnapshot(later, diffSnapshots(empty, later));
    assert.deepEqual(
      pushed.map((r) => [r.type.short, names(r)]),
      [
        ['EDS', ['app']],
        ['LDS', ['app']],
      ],
    );
  });

  it('pushes changed types cluster → endpoints → listener → routes, removals last', () => {
    const stream = new StreamState(1, 'peer', 0);
    const before = snapshotOf([V1, V2]);
    // CDS by wildcard (as Envoy does), the rest by name.
    subscribeAll(stream, before, [
      [ROUTE, ['app']],
      [LISTENER, ['app']],
      [ENDPOINT, ['app', 'app/v1', 'app/v2', 'app/v3']],
      [CLUSTER, []],
    ]);
    // v3 arrives: its cluster and endpoints exist before the route that refers to it.
    const withV3 = snapshotOf([V1, V2, { id: 'c', version: 'v3', address: '10.0.0.3:80' }]);
    assert.deepEqual(
      stream.handleSnapshot(withV3, diffSnapshots(before, withV3)).map((r) => r.type.short),
      ['CDS', 'EDS', 'RDS'],
    );
    // v2 goes away: the route stops referring to it before its cluster is removed.
    const without = snapshotOf([V1]);
    assert.deepEqual(
      stream.handleSnapshot(without, diffSnapshots(withV3, without)).map((r) => r.type.short),
      ['EDS', 'RDS', 'CDS'],
    );
  });

  it('keeps removed clusters in one more wildcard CDS response when others change (make before break)', () => {
    const stream = new StreamState(1, 'peer', 0);
    const before = snapshotOf([V1, V2]);
    subscribeAll(stream, before, [
      [CLUSTER, []],
      [ENDPOINT, ['app', 'app/v1', 'app/v2', 'app/v3']],
      [ROUTE, ['app']],
    ]);
    // v2 replaced by v3 in one change: app/v3 is added, app/v2 removed.
    const after = snapshotOf([V1, { id: 'c', version: 'v3', address: '10.0.0.3:80' }]);
    const pushed = stream.handleSnapshot(after, diffSnapshots(before, after), before);
    assert.deepEqual(
      pushed.map((r) => [r.type.short, names(r)]),
      [
        ['CDS', ['app', 'app/v1', 'app/v3', 'app/v2']],
        ['EDS', ['app', 'app/v3']],
        ['RDS', ['app']],
        ['CDS', ['app', 'app/v1', 'app/v3']],
      ],
    );
    assert.notEqual(pushed[0].versionInfo, pushed[3].versionInfo);
  });

  it('a stream that missed pushes gets the latest state, one response per type, no make-before-break pair', () => {
    const stream = new StreamState(1, 'peer', 0);
    const first = snapshotOf([V1, V2]);
    subscribeAll(stream, first, [
      [CLUSTER, []],
      [ENDPOINT, ['app', 'app/v1', 'app/v2', 'app/v3']],
      [ROUTE, ['app']],
    ]);
    // Three changes the client did not read: v3 comes, v2 goes, v1 gets a second instance.
    const second = snapshotOf([V1, V2, { id: 'c', version: 'v3', address: '10.0.0.3:80' }]);
    const third = snapshotOf([V1, { id: 'c', version: 'v3', address: '10.0.0.3:80' }]);
    const latest = snapshotOf([
      V1,
      { id: 'a2', version: 'v1', address: '10.0.0.4:80' },
      { id: 'c', version: 'v3', address: '10.0.0.3:80' },
    ]);
    const held = new HeldChanges();
    held.merge(diffSnapshots(first, second));
    held.merge(diffSnapshots(second, third));
    held.merge(diffSnapshots(third, latest));
    const pushed = stream.handleHeld(latest, held.changes());
    assert.deepEqual(
      pushed.map((r) => [r.type.short, names(r)]),
      [
        ['CDS', ['app', 'app/v1', 'app/v3']],
        ['EDS', ['app', 'app/v1', 'app/v3']],
        ['RDS', ['app']],
      ],
    );
    for (const response of pushed)
      for (const resource of response.resources)
        assert.equal(resource.version, latest.get(response.type, resource.name)!.version, 'the latest state');
    assert.equal(pushed[0].versionInfo, latest.typeVersion(CLUSTER));
    // What the stream already has is not sent again.
    assert.deepEqual(stream.handleHeld(latest, held.changes()), []);
  });

  it('sends endpoints again after their cluster changed, and routes after their listener (Envoy warming)', () => {
    const stream = new StreamState(1, 'peer', 0);
    const envoySnapshot = (policies: Record<string, object> = {}): Snapshot =>
      Snapshot.encode(translateFor('envoy', catalogOf([V1], policies)), aliases);
    const before = envoySnapshot();
    subscribeAll(stream, before, [
      [CLUSTER, []],
      [ENDPOINT, ['app', 'app/v1']],
    ]);
    // Only the clusters change (Envoy's least request); the endpoints are the same.
    const after = envoySnapshot({ app: { lbPolicy: 'least_request' } });
    const changes = diffSnapshots(before, after);
    assert.equal(changes.has(ENDPOINT), false);
    assert.deepEqual(
      stream.handleSnapshot(after, changes, before).map((r) => [r.type.short, names(r)]),
      [
        ['CDS', ['app', 'app/v1']],
        ['EDS', ['app', 'app/v1']],
      ],
    );
  });

  it('a gRPC client learns of a new version from RDS, then subscribes to its cluster', () => {
    const stream = new StreamState(1, 'peer', 0);
    const before = snapshotOf([V1]);
    subscribeAll(stream, before, [
      [LISTENER, ['app']],
      [ROUTE, ['app']],
      [CLUSTER, ['app', 'app/v1']],
      [ENDPOINT, ['app', 'app/v1']],
    ]);
    const after = snapshotOf([V1, V2]);
    const pushed = stream.handleSnapshot(after, diffSnapshots(before, after));
    assert.deepEqual(
      pushed.map((r) => [r.type.short, names(r)]),
      [
        ['EDS', ['app']],
        ['RDS', ['app']],
      ],
    );
    const cds = stream.handleRequest(
      request(CLUSTER, ['app', 'app/v1', 'app/v2'], { nonce: stream.subscriptions.get(CLUSTER)!.lastNonce }),
      after,
    );
    assert.deepEqual(names(cds.response), ['app', 'app/v1', 'app/v2']);
  });

  it('sends nothing when a change only brings back what the stream already has', () => {
    const stream = new StreamState(1, 'peer', 0);
    const a = snapshotOf([V1]);
    const b = snapshotOf([V1], { app: { lbPolicy: 'ring_hash', hashHeader: 'x' } });
    subscribeAll(stream, a, [
      [CLUSTER, ['app', 'app/v1']],
      [ENDPOINT, ['app', 'app/v1']],
    ]);
    // a → b is pushed; b → a while the stream still has b is pushed; a → a' (same content) is not.
    assert.equal(stream.handleSnapshot(b, diffSnapshots(a, b)).length, 2);
    assert.equal(stream.handleSnapshot(a, diffSnapshots(b, a)).length, 2);
    assert.deepEqual(stream.handleSnapshot(a, diffSnapshots(b, a)), []);
  });

  it('does not send removed endpoints or routes (the LDS/CDS response is the removal)', () => {
    const stream = new StreamState(1, 'peer', 0);
    const before = snapshotOf([V1, V2]);
    ack(stream, stream.handleRequest(request(ENDPOINT, ['app/v2']), before).response!, ['app/v2'], before);
    const without = snapshotOf([V1]);
    assert.deepEqual(stream.handleSnapshot(without, diffSnapshots(before, without)), []);
  });

  it('a legacy empty first CDS/LDS request is a wildcard; "*" is too', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, OTHER]);
    const cds = stream.handleRequest(request(CLUSTER, []), snapshot).response!;
    assert.deepEqual(names(cds), ['app', 'app/v1', 'other', 'other/v1']);
    const lds = stream.handleRequest(request(LISTENER, ['*']), snapshot).response!;
    assert.deepEqual(names(lds), ['app', 'other']);
    const eds = stream.handleRequest(request(ENDPOINT, []), snapshot).response!;
    assert.deepEqual(names(eds), [], 'an empty EDS request subscribes to nothing');
  });

  it('an empty list after explicit names unsubscribes instead of meaning wildcard', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, OTHER]);
    const first = stream.handleRequest(request(CLUSTER, ['app']), snapshot).response!;
    const result = stream.handleRequest(request(CLUSTER, [], { nonce: first.nonce }), snapshot);
    assert.deepEqual(names(result.response), []);
    assert.equal(stream.subscriptions.get(CLUSTER)!.wildcard, false);
  });

  it('a request without a nonce on a known type is answered in full again', () => {
    const stream = new StreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, V2]);
    stream.handleRequest(request(ENDPOINT, ['app/v1', 'app/v2']), snapshot);
    const again = stream.handleRequest(request(ENDPOINT, ['app/v1', 'app/v2']), snapshot);
    assert.deepEqual(names(again.response), ['app/v1', 'app/v2']);
  });

  it('requests for types it does not serve are reported, not answered', () => {
    const stream = new StreamState(1, 'peer', 0);
    const result = stream.handleRequest(
      {
        ...request(CLUSTER, ['x']),
        type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
      },
      snapshotOf([V1]),
    );
    assert.equal(result.outcome, 'unknown-type');
    assert.equal(result.response, undefined);
  });
});
