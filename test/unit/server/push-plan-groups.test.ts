// Property test: a push planned once per group of streams in the same state (StreamState's replay)
// sends each stream exactly what planning it alone would. Every stream has a twin that gets the
// same requests; the twins are pushed each with a copy of the change set of their own, so no
// plan is ever replayed for them, and each pair must end every step with the same responses and
// the same subscription state.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AliasEncodings, diffSnapshots, Snapshot, type ChangeSet } from '../../../src/cache/snapshot';
import type { DiscoveryRequest__Output } from '../../../src/generated/envoy/service/discovery/v3/DiscoveryRequest';
import { CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE, type XdsType } from '../../../src/proto/xds-types';
import type { OutgoingResponse } from '../../../src/server/ads-service';
import { HeldChanges } from '../../../src/server/held-changes';
import { StreamState } from '../../../src/server/stream-state';
import { translateForGrpc } from '../../../src/translate/grpc/translate';
import { catalogOf, random, type InstanceSpec } from '../fixtures';

const aliases = new AliasEncodings();
const SERVICES = ['app', 'user', 'pay'];
const VERSIONS = ['v1', 'v2', 'v3'];
const CLUSTERS = SERVICES.flatMap((service) => [service, ...VERSIONS.map((v) => `${service}/${v}`)]);

function request(
  type: XdsType,
  names: string[],
  reply?: OutgoingResponse,
  nack = false,
): DiscoveryRequest__Output {
  return {
    version_info: reply === undefined ? '' : nack ? 'rejected' : reply.versionInfo,
    node: null,
    resource_names: names,
    type_url: type.typeUrl,
    response_nonce: reply?.nonce ?? '',
    error_detail: nack ? { code: 3, message: 'no', details: [] } : null,
    resource_locators: [],
  };
}

/** What a response says, without object identity. */
function content(responses: readonly OutgoingResponse[]): string {
  return JSON.stringify(
    responses.map((r) => [r.type.short, r.nonce, r.versionInfo, r.resources.map((x) => [x.name, x.version])]),
  );
}

/** A stream's subscriptions as data: names, wildcard, held versions, last nonce. */
function state(stream: StreamState): string {
  return JSON.stringify(
    [...stream.subscriptions].map(([type, s]) => [
      type.short,
      [...s.names.keys()].sort(),
      s.wildcard,
      [...s.sent].sort(),
      s.lastNonce,
    ]),
  );
}

function copyOf(changes: ChangeSet): ChangeSet {
  return new Map(
    [...changes].map(([type, c]) => [type, { updated: new Set(c.updated), removed: new Set(c.removed) }]),
  );
}

describe('push plans shared by streams in the same state', () => {
  it('streams asking the same names but holding different versions are planned apart', () => {
    const snapshotOf = (list: InstanceSpec[]): Snapshot =>
      Snapshot.encode(translateForGrpc(catalogOf(list)), aliases);
    const s0 = snapshotOf([{ id: 'a', version: 'v1', address: '10.0.0.1:80' }]);
    const s1 = snapshotOf([{ id: 'a', version: 'v1', address: '10.0.0.2:80' }]);
    const s2 = snapshotOf([{ id: 'a', version: 'v1', address: '10.0.0.1:80' }]); // back to s0's
    const [early, late] = [new StreamState(1, 'peer', 0), new StreamState(2, 'peer', 0)];
    // `early` subscribes at s0 and misses the push to s1 (its client was not reading); `late`
    // subscribes at s1. Both asked the same names and were last sent their first response.
    early.handleRequest(request(ENDPOINT, ['app/v1']), s0);
    late.handleRequest(request(ENDPOINT, ['app/v1']), s1);
    const changes = diffSnapshots(s1, s2);
    assert.equal(late.handleSnapshot(s2, changes, s1).length, 1, 'late holds s1: s2 is news');
    assert.deepEqual(early.handleSnapshot(s2, changes, s1), [], 'early already holds what s2 has');
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`send each stream what planning it alone would (seed ${seed})`, () => {
      const next = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];

      let instances: InstanceSpec[] = SERVICES.map((service, i) => ({
        service,
        id: 'i0',
        version: 'v1',
        address: `10.0.${i}.1:80`,
      }));
      const snapshotOf = (list: InstanceSpec[]): Snapshot =>
        Snapshot.encode(translateForGrpc(catalogOf(list)), aliases);
      let snapshot = snapshotOf(instances);

      // Few distinct subscriptions, so many streams share a state (the case grouping is for).
      const shapes: [XdsType, string[]][][] = [
        [
          [LISTENER, ['app']],
          [ROUTE, ['app']],
          [CLUSTER, ['app', 'app/v1', 'app/v2']],
          [ENDPOINT, ['app', 'app/v1', 'app/v2']],
        ],
        [
          [CLUSTER, []],
          [ENDPOINT, ['user', 'user/v1']],
        ],
        [
          [LISTENER, ['*']],
          [CLUSTER, ['*']],
          [ENDPOINT, CLUSTERS],
        ],
      ];
      const resubscriptions = [['app', 'app/v2'], ['user', 'user/v1', 'user/v3'], CLUSTERS];
      const pairs: [StreamState, StreamState][] = [];
      /** The last response of each type, per pair (both twins get the same one, as data). */
      const last: Map<XdsType, OutgoingResponse>[] = [];
      const names: Map<XdsType, string[]>[] = [];
      const send = (i: number, make: (type: XdsType) => DiscoveryRequest__Output | undefined): void => {
        const [grouped, alone] = pairs[i];
        for (const type of PUSH_ORDER) {
          const req = make(type);
          if (req === undefined) continue;
          const a = grouped.handleRequest(req, snapshot).response;
          const b = alone.handleRequest(req, snapshot).response;
          assert.equal(content(a === undefined ? [] : [a]), content(b === undefined ? [] : [b]));
          if (a !== undefined) last[i].set(type, a);
        }
      };
      for (let i = 0; i < 24; i++) {
        pairs.push([new StreamState(i, 'grouped', 0), new StreamState(i, 'alone', 0)]);
        last.push(new Map());
        names.push(new Map(pick(shapes)));
        send(i, (type) => (names[i].has(type) ? request(type, names[i].get(type)!) : undefined));
        send(i, (type) =>
          last[i].has(type) ? request(type, names[i].get(type)!, last[i].get(type)) : undefined,
        );
      }

      const held: (HeldChanges | undefined)[] = pairs.map(() => undefined);
      let replayed = 0;
      for (let step = 0; step < 60; step++) {
        // A random change: instances come and go, versions appear and disappear.
        const roll = next();
        if (roll < 0.5 || instances.length < 2) {
          const service = pick(SERVICES);
          instances = [
            ...instances,
            {
              service,
              id: `i${step}`,
              version: pick(VERSIONS),
              address: `10.1.${step}.${Math.floor(next() * 200)}:80`,
            },
          ];
        } else {
          instances = instances.filter((x) => x !== pick(instances));
        }
        const previous = snapshot;
        snapshot = snapshotOf(instances);
        const changes = diffSnapshots(previous, snapshot);
        // Some streams miss pushes (their client is not reading) and later get the latest state:
        // then streams with the same names and last nonce can hold different versions.
        // Every grouped stream first (a plan is shared within one push), then every twin alone.
        const released: (ChangeSet | undefined | 'missed')[] = pairs.map((_, i) => {
          if (held[i] === undefined && next() < 0.1) held[i] = new HeldChanges();
          if (held[i] === undefined) return undefined;
          held[i].merge(changes, 0);
          if (next() < 0.7) return 'missed';
          const latest = held[i].changes();
          held[i] = undefined;
          return latest;
        });
        const pushed = pairs.map(([grouped], i): readonly OutgoingResponse[] => {
          const latest = released[i];
          if (latest === 'missed') return [];
          return latest === undefined
            ? grouped.handleSnapshot(snapshot, changes, previous)
            : grouped.handleHeld(snapshot, latest);
        });
        pairs.forEach(([grouped, alone], i) => {
          const latest = released[i];
          const reference =
            latest === 'missed'
              ? []
              : latest === undefined
                ? alone.handleSnapshot(snapshot, copyOf(changes), previous)
                : alone.handleHeld(snapshot, latest);
          assert.equal(content(pushed[i]), content(reference), `step ${step}, stream ${i}`);
          assert.equal(state(grouped), state(alone), `step ${step}, stream ${i}`);
          for (const response of reference) last[i].set(response.type, response);
        });
        // A replayed plan hands out the one list of responses it made for the first stream.
        const nonEmpty = pushed.filter((responses) => responses.length > 0);
        if (new Set(nonEmpty).size < nonEmpty.length) replayed++;

        // Then each stream ACKs, NACKs, or changes what it asks for (or sits still).
        pairs.forEach((_, i) => {
          const what = next();
          if (what < 0.6)
            send(i, (type) =>
              last[i].has(type) ? request(type, names[i].get(type)!, last[i].get(type)) : undefined,
            );
          else if (what < 0.7)
            send(i, (type) =>
              type === ENDPOINT && last[i].has(type)
                ? request(type, names[i].get(type)!, last[i].get(type), true)
                : undefined,
            );
          else if (what < 0.8 && last[i].has(ENDPOINT)) {
            names[i].set(ENDPOINT, pick(resubscriptions));
            send(i, (type) =>
              type === ENDPOINT ? request(type, names[i].get(type)!, last[i].get(type)) : undefined,
            );
          }
        });
      }
      console.log(`seed ${seed}: plans shared in ${replayed} of 60 pushes`);
      assert.ok(replayed >= 5, `plans were shared in ${replayed} of 60 pushes`);
    });
  }
});
