import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AliasEncodings, diffSnapshots, Snapshot } from '../../../src/cache/snapshot';
import type { DeltaDiscoveryRequest__Output } from '../../../src/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import { CLUSTER, ENDPOINT, type XdsType } from '../../../src/proto/xds-types';
import { DeltaStreamState, type OutgoingDeltaResponse } from '../../../src/server/delta-stream-state';
import { HeldChanges } from '../../../src/server/held-changes';
import { translateFor } from '../../../src/translate/flavours';
import { catalogOf, type InstanceSpec } from '../fixtures';

const aliases = new AliasEncodings();
const snapshotOf = (instances: InstanceSpec[], policies: Record<string, object> = {}): Snapshot =>
  Snapshot.encode(translateFor('envoy', catalogOf(instances, policies)), aliases);

const V1: InstanceSpec = { id: 'a', version: 'v1', address: '10.0.0.1:80' };
const V2: InstanceSpec = { id: 'b', version: 'v2', address: '10.0.0.2:80' };

function request(
  type: XdsType,
  fields: Partial<DeltaDiscoveryRequest__Output> = {},
): DeltaDiscoveryRequest__Output {
  return {
    node: null,
    type_url: type.typeUrl,
    resource_names_subscribe: [],
    resource_names_unsubscribe: [],
    initial_resource_versions: {},
    response_nonce: '',
    error_detail: null,
    resource_locators_subscribe: [],
    resource_locators_unsubscribe: [],
    ...fields,
  };
}

const sent = (response: OutgoingDeltaResponse | undefined): [string[], readonly string[]] => [
  response?.resources.map((r) => r.name) ?? [],
  response?.removed ?? [],
];

describe('DeltaStreamState', () => {
  it('on a first request sends only what differs from initial_resource_versions', () => {
    const stream = new DeltaStreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, V2]);
    const held = { 'app/v1': snapshot.get(ENDPOINT, 'app/v1')!.version, 'app/v2': 'old', 'app/v9': 'gone' };
    const result = stream.handleRequest(
      request(ENDPOINT, {
        resource_names_subscribe: ['app/v1', 'app/v2', 'app/v9'],
        initial_resource_versions: held,
      }),
      snapshot,
    );
    assert.deepEqual(sent(result.response), [['app/v2'], ['app/v9']]);
  });

  it('keeps initial_resource_versions only for names the stream subscribes to', () => {
    const stream = new DeltaStreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1, V2]);
    const claimed: Record<string, string> = { 'app/v1': snapshot.get(ENDPOINT, 'app/v1')!.version };
    for (let i = 0; i < 1_000; i++) claimed[`never-asked-${i}`] = 'v';
    stream.handleRequest(
      request(ENDPOINT, { resource_names_subscribe: ['app/v1'], initial_resource_versions: claimed }),
      snapshot,
    );
    assert.deepEqual([...stream.subscriptions.get(ENDPOINT)!.sent.keys()], ['app/v1']);
    // Under a wildcard every name is subscribed: all are kept, and what no longer exists is removed.
    const wildcard = new DeltaStreamState(2, 'peer', 0);
    const result = wildcard.handleRequest(
      request(CLUSTER, { initial_resource_versions: { 'app/v1': 'old', gone: 'v' } }),
      snapshot,
    );
    assert.deepEqual(sent(result.response), [['app', 'app/v1', 'app/v2'], ['gone']]);
  });

  it('answers a first request even when there is nothing to send', () => {
    const stream = new DeltaStreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1]);
    const version = snapshot.get(ENDPOINT, 'app')!.version;
    const result = stream.handleRequest(
      request(ENDPOINT, { resource_names_subscribe: ['app'], initial_resource_versions: { app: version } }),
      snapshot,
    );
    assert.deepEqual(sent(result.response), [[], []]);
    assert.ok(result.response?.nonce);
  });

  it('sends a name again when the client subscribes to it again, unchanged or not', () => {
    const stream = new DeltaStreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1]);
    const first = stream.handleRequest(
      request(ENDPOINT, { resource_names_subscribe: ['app/v1'] }),
      snapshot,
    ).response!;
    const again = stream.handleRequest(
      request(ENDPOINT, { resource_names_subscribe: ['app/v1'], response_nonce: first.nonce }),
      snapshot,
    );
    assert.deepEqual(sent(again.response), [['app/v1'], []]);
  });

  it('tells a plain ACK of the latest response (which may wait) from requests that change something', () => {
    const stream = new DeltaStreamState(1, 'peer', 0);
    const snapshot = snapshotOf([V1]);
    const response = stream.handleRequest(
      request(ENDPOINT, { resource_names_subscribe: ['app'] }),
      snapshot,
    ).response!;
    const nonce = response.nonce;
    assert.equal(stream.isPlainAck(request(ENDPOINT, { response_nonce: nonce })), true);
    assert.equal(
      stream.isPlainAck(request(ENDPOINT, { response_nonce: nonce, resource_names_subscribe: ['app/v1'] })),
      false,
      'subscribes',
    );
    assert.equal(
      stream.isPlainAck(request(ENDPOINT, { response_nonce: nonce, resource_names_unsubscribe: ['app'] })),
      false,
      'unsubscribes',
    );
    assert.equal(
      stream.isPlainAck(
        request(ENDPOINT, { response_nonce: nonce, error_detail: { code: 3, message: 'bad', details: [] } }),
      ),
      false,
      'a NACK',
    );
    assert.equal(stream.isPlainAck(request(ENDPOINT, { response_nonce: 'old' })), false, 'a stale nonce');
    assert.equal(stream.isPlainAck(request(CLUSTER, { response_nonce: nonce })), false, 'another type');
  });

  it('a NACK is recorded and answered with nothing', () => {
    const stream = new DeltaStreamState(1, 'peer', 0, () => 7);
    const snapshot = snapshotOf([V1]);
    const first = stream.handleRequest(
      request(ENDPOINT, { resource_names_subscribe: ['app'] }),
      snapshot,
    ).response!;
    const nack = stream.handleRequest(
      request(ENDPOINT, {
        response_nonce: first.nonce,
        error_detail: { code: 3, message: 'bad', details: [] },
      }),
      snapshot,
    );
    assert.equal(nack.outcome, 'nack');
    assert.equal(nack.response, undefined);
    assert.equal(stream.subscriptions.get(ENDPOINT)!.lastNack?.message, 'bad');
  });

  it('pushes changes first and removals last, and endpoints again after their cluster changed', () => {
    const stream = new DeltaStreamState(1, 'peer', 0);
    const before = snapshotOf([V1, V2]);
    stream.handleRequest(request(CLUSTER), before); // legacy wildcard
    stream.handleRequest(
      request(ENDPOINT, { resource_names_subscribe: ['app', 'app/v1', 'app/v2'] }),
      before,
    );
    // v2 goes away and the clusters change (least_request); app/v1's endpoints stay the same.
    const after = snapshotOf([V1], { app: { lbPolicy: 'least_request' } });
    const pushed = stream.handleSnapshot(after, diffSnapshots(before, after));
    assert.deepEqual(
      pushed.map((r) => [r.type.short, ...sent(r)]),
      [
        ['CDS', ['app', 'app/v1'], []],
        ['EDS', ['app', 'app/v1'], []],
        ['EDS', [], ['app/v2']],
        ['CDS', [], ['app/v2']],
      ],
    );
  });

  it('a stream that missed pushes gets one response per type: what changed and what was removed', () => {
    const stream = new DeltaStreamState(1, 'peer', 0);
    const first = snapshotOf([V1, V2]);
    stream.handleRequest(request(CLUSTER), first);
    stream.handleRequest(request(ENDPOINT, { resource_names_subscribe: ['app', 'app/v1', 'app/v2'] }), first);
    const second = snapshotOf([V1]);
    const latest = snapshotOf([V1], { app: { lbPolicy: 'least_request' } });
    const held = new HeldChanges();
    held.merge(diffSnapshots(first, second));
    held.merge(diffSnapshots(second, latest));
    assert.deepEqual(
      stream.handleHeld(latest, held.changes()).map((r) => [r.type.short, ...sent(r)]),
      [
        ['CDS', ['app', 'app/v1'], ['app/v2']],
        ['EDS', ['app', 'app/v1'], ['app/v2']],
      ],
    );
  });
});
