// fast-check arbitraries for the values users write to etcd: the right keys with arbitrary
// values, and arbitrary JSON. Shared by the property tests and the bad-input integration test.
import fc from 'fast-check';

/** JSON values shaped like registrations: right keys, arbitrary values. */
export const registrationLike = fc.oneof(
  fc.record(
    {
      name: fc.oneof(fc.constantFrom('app', 'svc', 'a/b', '', 'x'.repeat(300)), fc.string(), fc.integer()),
      id: fc.oneof(fc.string(), fc.integer()),
      version: fc.oneof(fc.constantFrom('v1', 'v2', '', 'v 1'), fc.string(), fc.constant(null)),
      address: fc.oneof(
        fc.constantFrom(
          '10.0.0.1:80',
          '[::1]:8080',
          '0.0.0.0:1',
          'host:80',
          '10.0.0.1:0',
          '10.0.0.1:99999',
          '::1:80',
        ),
        fc.string(),
        fc.ipV4().map((ip) => `${ip}:${80}`),
        fc.ipV6().map((ip) => `[${ip}]:443`),
      ),
      weight: fc.oneof(fc.integer({ min: -5, max: 20_000 }), fc.double(), fc.string()),
      zone: fc.oneof(fc.string(), fc.integer()),
      metadata: fc.oneof(fc.object(), fc.array(fc.integer()), fc.string()),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);

/** JSON values shaped like policies: right keys, arbitrary values. */
export const policyLike = fc.oneof(
  fc.record(
    {
      header: fc.oneof(fc.constantFrom('version', 'x-v', 'Version', 'grpc-x', 'a-bin'), fc.string()),
      defaultVersion: fc.oneof(fc.constantFrom('v1', 'v2', 'v9'), fc.string()),
      weights: fc.dictionary(
        fc.oneof(fc.constantFrom('v1', 'v2', 'v3'), fc.string()),
        fc.oneof(fc.nat(1_000_000), fc.integer(), fc.double()),
      ),
      onUnknownVersion: fc.oneof(fc.constantFrom('reject', 'default'), fc.string()),
      routes: fc.array(
        fc.record({
          match: fc.record({
            headers: fc.array(
              fc.record(
                {
                  name: fc.oneof(fc.constantFrom('x-group', 'x-tenant', 'X'), fc.string()),
                  exact: fc.string(),
                  prefix: fc.string(),
                  present: fc.boolean(),
                  regex: fc.oneof(fc.constantFrom('t-[0-9]+', '(a', 'a{2000}', '.*'), fc.string()),
                  invert: fc.boolean(),
                },
                { requiredKeys: ['name'] },
              ),
              { maxLength: 3 },
            ),
          }),
          version: fc.oneof(fc.constantFrom('v1', 'v2', 'v7'), fc.string()),
        }),
        { maxLength: 3 },
      ),
      lbPolicy: fc.oneof(fc.constantFrom('round_robin', 'ring_hash', 'least_request'), fc.string()),
      hashHeader: fc.oneof(fc.constant('x-user'), fc.string()),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);

const version = fc.constantFrom('v1', 'v2', 'v3', 'v4', '1.0.0-beta+2');

/** Registrations etcd-xds should accept, in either form. */
export const validRegistration = fc
  .tuple(
    fc.record(
      {
        name: fc.constantFrom('app', 'svc-1', 'a.b_c'),
        id: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
        version,
        address: fc.oneof(
          fc
            .tuple(
              fc.integer({ min: 1, max: 223 }),
              fc.nat(255),
              fc.nat(255),
              fc.integer({ min: 1, max: 254 }),
              fc.integer({ min: 1, max: 65535 }),
            )
            .map(([a, b, c, d, port]) => `${a}.${b}.${c}.${d}:${port}`),
          fc.integer({ min: 1, max: 65535 }).map((port) => `[2001:db8::${port.toString(16)}]:${port}`),
        ),
        weight: fc.integer({ min: 1, max: 10_000 }),
        zone: fc.constantFrom('', 'z1', 'z2', 'eu-west-1a'),
        metadata: fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.jsonValue(), { maxKeys: 3 }),
      },
      { requiredKeys: ['name', 'address'] },
    ),
    fc.boolean(),
  )
  .map(([fields, envelope]) => (envelope ? { node: fields, ttl: 10 } : fields));

const header = fc.constantFrom('x-group', 'x-tenant', 'x-user', 'version');
const matcher = fc.oneof(
  fc.record({ name: header, exact: fc.string() }),
  fc.record({ name: header, prefix: fc.string({ minLength: 1 }) }),
  fc.record({ name: header, present: fc.boolean(), invert: fc.boolean() }),
  fc.record({
    name: header,
    regex: fc.constantFrom('t-[0-9]+', '(a|b)c*', '[a-z]{1,8}', '.*'),
    invert: fc.boolean(),
  }),
);

/** Policies etcd-xds should accept. */
export const validPolicy = fc
  .record(
    {
      header: fc.constantFrom('version', 'x-version'),
      defaultVersion: version,
      weights: fc
        .dictionary(version, fc.nat(1_000_000), { minKeys: 1, maxKeys: 4 })
        .filter((weights) => Object.values(weights).some((w) => w > 0)),
      onUnknownVersion: fc.constantFrom('reject', 'default'),
      routes: fc.array(
        fc.record({
          match: fc.record({ headers: fc.array(matcher, { minLength: 1, maxLength: 3 }) }),
          version,
        }),
        {
          maxLength: 3,
        },
      ),
      lbPolicy: fc.constantFrom('round_robin', 'least_request'),
    },
    { requiredKeys: [] },
  )
  .chain((policy) =>
    fc
      .boolean()
      .map((ringHash) => (ringHash ? { ...policy, lbPolicy: 'ring_hash', hashHeader: 'x-user' } : policy)),
  );
