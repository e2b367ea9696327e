import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstance, plainFields, registrationFields } from '../../../src/registry/instance';
import { random } from '../fixtures';

const KEY = '/services/app/app-7f3c';

describe('parseInstance', () => {
  it('parses the Go registrars’ envelope and ignores its other fields', () => {
    const value = JSON.stringify({
      node: { name: 'app', path: '/services/app', id: 'app-7f3c', version: 'v1', address: '10.0.0.5:50051' },
      ttl: 10,
      etcd: { endpoints: ['x'] },
    });
    const result = parseInstance(KEY, value);
    assert.deepEqual(result, {
      ok: true,
      value: {
        key: KEY,
        service: 'app',
        id: 'app-7f3c',
        version: 'v1',
        address: { ip: '10.0.0.5', port: 50051 },
        weight: 1,
        zone: '',
        status: 'serving',
        metadata: undefined,
      },
    });
  });

  it('parses the flat form with weight, zone and metadata', () => {
    const value = JSON.stringify({
      name: 'app',
      id: 'app-1',
      version: 'v2',
      address: '[2001:db8::5]:8080',
      weight: 3,
      zone: 'z1',
      status: 'serving',
      metadata: { team: 'a', shard: 2 },
    });
    const result = parseInstance(KEY, Buffer.from(value));
    assert.ok(result.ok);
    assert.deepEqual(result.value.address, { ip: '2001:db8::5', port: 8080 });
    assert.equal(result.value.weight, 3);
    assert.equal(result.value.zone, 'z1');
    assert.deepEqual(result.value.metadata, { team: 'a', shard: 2 });
  });

  it('reads the status: serving by default, or draining (contract §9)', () => {
    const draining = parseInstance(
      KEY,
      JSON.stringify({ name: 'app', address: '10.0.0.5:1', status: 'draining' }),
    );
    assert.ok(draining.ok);
    assert.equal(draining.value.status, 'draining');
    const enveloped = parseInstance(
      KEY,
      JSON.stringify({ node: { name: 'app', address: '10.0.0.5:1', status: 'draining' } }),
    );
    assert.ok(enveloped.ok);
    assert.equal(enveloped.value.status, 'draining');
    const plain = parseInstance(KEY, JSON.stringify({ name: 'app', address: '10.0.0.5:1' }));
    assert.ok(plain.ok);
    assert.equal(plain.value.status, 'serving');
    const bad = parseInstance(KEY, JSON.stringify({ name: 'app', address: '10.0.0.5:1', status: 'stopped' }));
    assert.ok(!bad.ok);
    assert.match(bad.problem.message, /status/);
  });

  it('defaults the id to the last key segment and treats an empty version as none', () => {
    const result = parseInstance(
      '/services/app/inst-9',
      '{"name":"app","version":"","address":"10.0.0.1:1"}',
    );
    assert.ok(result.ok);
    assert.equal(result.value.id, 'inst-9');
    assert.equal(result.value.version, undefined);
  });

  const bad: [string, string | Uint8Array, RegExp][] = [
    ['not JSON', '{"name":', /not valid JSON/],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0x7b]), /not valid UTF-8/],
    ['a JSON array', '[1,2]', /must be a JSON object/],
    ['a JSON string', '"app"', /must be a JSON object/],
    ['no name', '{"address":"10.0.0.1:80"}', /name is required/],
    ['a numeric name', '{"name":5,"address":"10.0.0.1:80"}', /name is required/],
    ['a name with a slash', '{"name":"a/b","address":"10.0.0.1:80"}', /service name "a\/b"/],
    ['a name with a colon', '{"name":"a:1","address":"10.0.0.1:80"}', /service name/],
    ['an empty name', '{"name":"","address":"10.0.0.1:80"}', /service name ""/],
    ['no address', '{"name":"app"}', /address is required/],
    ['a hostname', '{"name":"app","address":"backend.local:80"}', /hostnames are not supported/],
    ['no port', '{"name":"app","address":"10.0.0.1"}', /must be IP:port/],
    ['port 0', '{"name":"app","address":"10.0.0.1:0"}', /port 0 is out of range/],
    ['port 65536', '{"name":"app","address":"10.0.0.1:65536"}', /port 65536 is out of range/],
    ['a port that is not a number', '{"name":"app","address":"10.0.0.1:http"}', /port must be a number/],
    ['0.0.0.0', '{"name":"app","address":"0.0.0.0:80"}', /unspecified address/],
    ['[::]', '{"name":"app","address":"[::]:80"}', /unspecified address/],
    ['IPv6 without brackets', '{"name":"app","address":"::1:80"}', /must be written \[ip\]:port/],
    ['a bad IPv4', '{"name":"app","address":"10.0.0.256:80"}', /must be an IP address/],
    ['weight 0', '{"name":"app","address":"10.0.0.1:80","weight":0}', /weight/],
    ['a fractional weight', '{"name":"app","address":"10.0.0.1:80","weight":1.5}', /weight/],
    ['a huge weight', '{"name":"app","address":"10.0.0.1:80","weight":10001}', /weight/],
    ['a bad version', '{"name":"app","address":"10.0.0.1:80","version":"v 1"}', /version "v 1"/],
    ['a numeric version', '{"name":"app","address":"10.0.0.1:80","version":1}', /version/],
    ['metadata that is not an object', '{"name":"app","address":"10.0.0.1:80","metadata":[1]}', /metadata/],
    [
      'a value over 64 KiB',
      JSON.stringify({ name: 'app', address: '10.0.0.1:80', pad: 'x'.repeat(70_000) }),
      /more than the limit/,
    ],
  ];
  for (const [what, value, message] of bad) {
    it(`rejects ${what}, naming the key`, () => {
      const result = parseInstance(KEY, value);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.problem.code, 'EXDS_BAD_REGISTRATION');
      assert.equal(result.problem.subject, KEY);
      assert.match(result.problem.message, message);
    });
  }
});

describe('registration fields checked by hand', () => {
  it('accepts only what the zod schema accepts, with the same fields, over 20,000 random bodies', () => {
    const pools: Record<string, unknown[]> = {
      name: [undefined, 'app', '', 5, null, true, {}, []],
      id: [undefined, 'a', '', 'x'.repeat(253), 'x'.repeat(254), 'é'.repeat(200), 3, null],
      version: [undefined, 'v1', '', 7, null, ['v1']],
      address: [undefined, '10.0.0.1:80', 'not an address', 5, null],
      weight: [undefined, 1, 0, 10_000, 10_001, 1.5, -0, -3, 2 ** 53, '3', null, true],
      zone: [undefined, 'z1', '', 'z'.repeat(128), 'z'.repeat(129), 1, null],
      status: [undefined, 'serving', 'draining', 'gone', '', null, 1],
      metadata: [undefined, {}, { team: 'a', n: 1, nested: { x: [1] } }, [], null, 'x', 3],
      ttl: [undefined, 10, 'x', null],
    };
    const next = random(29);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)];
    let accepted = 0;
    let deferred = 0;
    for (let i = 0; i < 20_000; i++) {
      const body: Record<string, unknown> = {};
      for (const [field, values] of Object.entries(pools)) {
        // Mostly valid values, so bodies the hand check accepts are common.
        const value = next() < 0.7 ? values[Math.min(1, values.length - 1)] : pick(values);
        if (value !== undefined) body[field] = value;
      }
      const candidate: unknown = i % 500 === 0 ? pick([null, [], 'text', 4, [body]]) : body;
      const plain = plainFields(candidate);
      const parsed = registrationFields.safeParse(candidate);
      if (plain === undefined) {
        deferred++;
        continue;
      }
      accepted++;
      assert.ok(parsed.success, `zod rejects what the hand check accepts: ${JSON.stringify(candidate)}`);
      for (const field of Object.keys(registrationFields.shape) as (keyof typeof plain)[])
        assert.deepEqual(plain[field], parsed.data[field], `${field} of ${JSON.stringify(candidate)}`);
    }
    assert.ok(accepted > 2_000 && deferred > 2_000, `accepted ${accepted}, deferred ${deferred}`);
  });
});
