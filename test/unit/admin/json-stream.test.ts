import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AliasEncodings, Snapshot } from '../../../src/cache/snapshot';
import { JsonWriter, LazyArray, LazyObject, lazyFields, lazyMap } from '../../../src/admin/json-stream';
import { messageJson } from '../../../src/admin/lazy-decode';
import { decodeToJson } from '../../../src/proto/proto-root';
import { ENDPOINT, ROUTE } from '../../../src/proto/xds-types';
import { translateFor } from '../../../src/translate/flavours';
import { catalogOf, type InstanceSpec } from '../fixtures';

/** Writes `value` to the end, `perStep` items at a time (a clock that ticks once per item). */
function writeAll(value: unknown, perStep = Infinity): { text: string; steps: number } {
  const writer = new JsonWriter(value);
  let tick = 0;
  const chunks: Buffer[] = [];
  let steps = 0;
  while (!writer.done) {
    steps++;
    chunks.push(...writer.step(tick + perStep, () => ++tick));
  }
  return { text: Buffer.concat(chunks).toString('utf8'), steps };
}

/** `value` with its arrays and objects made lazy, at random. */
function lazified(value: unknown, coin: () => boolean): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => lazified(item, coin));
    return coin() ? new LazyArray(items) : value;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, lazified(v, coin)] as const);
    return coin() ? new LazyObject(entries) : value;
  }
  return value;
}

describe('JsonWriter', () => {
  it('writes exactly what JSON.stringify writes, however the value is made lazy', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.infiniteStream(fc.boolean()),
        fc.integer({ min: 1, max: 5 }),
        (value, coins, perStep) => {
          const coin = (): boolean => coins.next().value as boolean;
          assert.equal(writeAll(lazified(value, coin), perStep).text, JSON.stringify(value));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves out undefined entries of objects and writes undefined items of arrays as null', () => {
    const value = lazyFields({
      a: undefined,
      b: new LazyArray([undefined, 1]),
      c: lazyMap([1, 2], (n) => n * 2),
    });
    assert.equal(writeAll(value).text, '{"b":[null,1],"c":[2,4]}');
  });

  it('stops at the deadline and goes on from there', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const { text, steps } = writeAll(
      lazyMap(items, (i) => ({ i })),
      10,
    );
    assert.equal(text, JSON.stringify(items.map((i) => ({ i }))));
    assert.ok(steps >= 10, `${steps} steps`);
  });

  it('cuts its output into chunks of about 64 KiB', () => {
    const writer = new JsonWriter(
      lazyMap(
        Array.from({ length: 5_000 }, (_, i) => i),
        (i) => 'x'.repeat(100) + i,
      ),
    );
    const chunks = writer.step(Infinity, () => 0);
    assert.ok(writer.done);
    assert.ok(chunks.length > 5, `${chunks.length} chunks`);
    for (const chunk of chunks.slice(0, -1)) assert.ok(chunk.length >= 64 * 1024 && chunk.length < 70 * 1024);
  });
});

describe('messageJson', () => {
  const aliases = new AliasEncodings();
  const writeResource = (messageName: string, bytes: Uint8Array, perStep = 7): string =>
    writeAll(messageJson(messageName, bytes), perStep).text;

  it('decodes a big RouteConfiguration (Envoy, 2,000 virtual hosts) lazily to the same JSON', () => {
    const instances: InstanceSpec[] = Array.from({ length: 2_000 }, (_, i) => ({
      service: `svc-${i}`,
      id: `i-${i}`,
      version: `v${i % 3}`,
      address: `10.0.${i >> 8}.${i & 255}:80`,
    }));
    const snapshot = Snapshot.encode(translateFor('envoy', catalogOf(instances)), aliases);
    const routes = [...snapshot.all(ROUTE)][0];
    assert.ok(routes.bytes.length > 100_000, `${routes.bytes.length} bytes`);
    assert.ok(messageJson(ROUTE.messageName, routes.bytes) instanceof LazyObject);
    assert.equal(
      writeResource(ROUTE.messageName, routes.bytes),
      JSON.stringify(decodeToJson(ROUTE.messageName, routes.bytes)),
    );
  });

  it('decodes big endpoints (one zone of 3,000 instances) lazily, nested, to the same JSON', () => {
    const instances: InstanceSpec[] = Array.from({ length: 3_000 }, (_, i) => ({
      id: `i-${i}`,
      version: 'v1',
      zone: 'z1',
      weight: (i % 3) + 1,
      address: `10.1.${i >> 8}.${i & 255}:8080`,
    }));
    const snapshot = Snapshot.encode(translateFor('grpc', catalogOf(instances)), aliases);
    const endpoints = snapshot.get(ENDPOINT, 'app')!;
    assert.ok(endpoints.bytes.length > 64 * 1024, `${endpoints.bytes.length} bytes`);
    assert.equal(
      writeResource(ENDPOINT.messageName, endpoints.bytes),
      JSON.stringify(decodeToJson(ENDPOINT.messageName, endpoints.bytes)),
    );
  });

  it('decodes small messages at once', () => {
    const snapshot = Snapshot.encode(
      translateFor('grpc', catalogOf([{ id: 'a', version: 'v1', address: '10.0.0.1:80' }])),
      aliases,
    );
    const endpoints = snapshot.get(ENDPOINT, 'app')!;
    assert.deepEqual(
      messageJson(ENDPOINT.messageName, endpoints.bytes),
      decodeToJson(ENDPOINT.messageName, endpoints.bytes),
    );
  });
});
