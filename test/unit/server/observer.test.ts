import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { NackBackoffs } from '../../../src/server/nack-backoff';
import { Observers, type ObservedStream, type XdsObserver } from '../../../src/server/observer';
import { RequestLimits, type LimitViolation } from '../../../src/server/request-limits';
import { StreamState } from '../../../src/server/stream-state';
import { CLUSTER } from '../../../src/proto/xds-types';

const stream: ObservedStream = {
  state: new StreamState(1, 'peer', Date.now()),
  protocol: 'sotw',
  onlyType: undefined,
  profile: undefined,
};

const violation = (details: string): LimitViolation => ({
  code: grpc.status.RESOURCE_EXHAUSTED,
  reason: 'too-many-names',
  details,
});

describe('Observers', () => {
  it('tells every observer in order, and the first violation wins', () => {
    const seen: string[] = [];
    const observer = (name: string, answer?: LimitViolation): XdsObserver => ({
      streamOpened: () => void seen.push(`${name}:opened`),
      requestHandled: () => {
        seen.push(`${name}:handled`);
        return answer;
      },
    });
    const observers = new Observers([
      observer('a'),
      observer('b', violation('b')),
      observer('c', violation('c')),
    ]);
    observers.streamOpened(stream);
    const result = observers.requestHandled(stream, { outcome: 'ack', type: CLUSTER, delta: undefined }, {
      type_url: CLUSTER.typeUrl,
    } as never);
    assert.equal(result?.details, 'b');
    assert.deepEqual(seen, ['a:opened', 'b:opened', 'c:opened', 'a:handled', 'b:handled']);
  });

  it('runs hooks an observer lacks as no-ops', () => {
    const observers = new Observers([{}]);
    assert.equal(observers.streamOpening('peer', 0), undefined);
    observers.close();
  });
});

describe('RequestLimits', () => {
  it('refuses a stream beyond --max-streams', () => {
    const limits = new RequestLimits(2);
    assert.equal(limits.streamOpening('peer', 1), undefined);
    assert.equal(limits.streamOpening('peer', 2)?.reason, 'too-many-streams');
  });
});

describe('NackBackoffs', () => {
  it('backs a stream off after a NACK and ends it on an ACK', () => {
    const backoffs = new NackBackoffs();
    assert.equal(backoffs.of(stream).delay(performance.now()), 0);
    backoffs.requestHandled(stream, { outcome: 'nack', type: CLUSTER, delta: undefined });
    assert.ok(backoffs.of(stream).delay(performance.now()) > 0);
    backoffs.requestHandled(stream, { outcome: 'ack', type: CLUSTER, delta: undefined });
    assert.equal(backoffs.of(stream).delay(performance.now()), 0);
    backoffs.streamClosed(stream);
  });
});
