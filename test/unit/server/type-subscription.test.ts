import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER, LISTENER } from '../../../src/proto/xds-types';
import { TypeSubscription } from '../../../src/server/type-subscription';

function requestedFor(subscription: TypeSubscription, canonical: string): string[] {
  const into: string[] = [];
  subscription.addRequestedFor(canonical, into);
  return into;
}

describe('TypeSubscription', () => {
  it('indexes names that are their own canonical names without a table of aliases', () => {
    const subscription = new TypeSubscription(CLUSTER);
    assert.equal(subscription.add('app'), 'app');
    assert.equal(subscription.add('app/v1'), 'app/v1');
    assert.equal(subscription.add('app'), undefined, 'already subscribed');
    assert.deepEqual([...subscription.canonicalNames()], ['app', 'app/v1']);
    assert.equal(subscription.canonicalCount, 2);
    assert.ok(subscription.subscribes('app/v1'));
    assert.ok(!subscription.subscribes('other'));
    assert.deepEqual(requestedFor(subscription, 'app'), ['app']);
    assert.deepEqual(requestedFor(subscription, 'other'), []);
    assert.equal(subscription.remove('app'), 'app');
    assert.equal(subscription.remove('app'), undefined, 'no longer subscribed');
    assert.deepEqual([...subscription.canonicalNames()], ['app/v1']);
  });

  it('keeps a canonical name while any alias of it is requested, from the first alias on', () => {
    const subscription = new TypeSubscription(LISTENER);
    assert.equal(subscription.add('app'), 'app');
    assert.equal(subscription.add('other'), 'other');
    assert.equal(subscription.add('app:50051'), undefined, 'app was already subscribed');
    assert.deepEqual(requestedFor(subscription, 'app'), ['app', 'app:50051']);
    assert.deepEqual([...subscription.canonicalNames()], ['app', 'other']);
    assert.equal(subscription.canonicalCount, 2);
    assert.equal(subscription.remove('app'), undefined, 'app:50051 still stands for app');
    assert.ok(subscription.subscribes('app'));
    assert.deepEqual(requestedFor(subscription, 'app'), ['app:50051']);
    assert.equal(subscription.remove('app:50051'), 'app');
    assert.ok(!subscription.subscribes('app'));
    assert.equal(subscription.remove('other'), 'other');
    assert.equal(subscription.canonicalCount, 0);
  });

  it('indexes an alias requested before its canonical name', () => {
    const subscription = new TypeSubscription(LISTENER);
    assert.equal(subscription.add('app:50051'), 'app');
    assert.equal(subscription.add('app'), undefined);
    assert.deepEqual([...subscription.canonicalNames()], ['app']);
    assert.deepEqual(requestedFor(subscription, 'app').sort(), ['app', 'app:50051']);
    assert.ok(!subscription.subscribes('app:50051'), 'indexed by canonical name only');
  });

  it('keeps the sent version string for an ACK of it, and tells a NACK from a later ACK', () => {
    const subscription = new TypeSubscription(CLUSTER);
    subscription.add('app');
    subscription.recordSent({ nonce: 'n1', version: 'v1', at: 1 }, [{ name: 'app', version: 'a' }], [], true);
    subscription.recordNack('n1', 3, 'bad', 2);
    assert.ok(subscription.refusing);
    assert.equal(subscription.lastNack?.rejectedVersion, 'v1');
    subscription.recordAck('v0', 3);
    assert.ok(subscription.refusing, 'an ACK of the same response does not clear the NACK');
    subscription.recordSent({ nonce: 'n2', version: 'v2', at: 4 }, [{ name: 'app', version: 'b' }], [], true);
    const echoed = ['v', '2'].join('');
    subscription.recordAck(echoed, 5);
    assert.ok(!subscription.refusing);
    assert.equal(subscription.ackedVersion, 'v2');
    assert.equal(subscription.ackedAt, 5);
    assert.equal(subscription.lastNonce, 'n2');
    assert.equal(subscription.lastSentAt, 4);
  });
});
