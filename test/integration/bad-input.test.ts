// Bad input against the real server: garbage frames, oversized and over-limit requests, and
// random registration and policy values in etcd, while a real client keeps calling. The server
// must stay up, refuse each with a clear status, and change nothing else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { ADS_SERVICE_NAME } from '../../src/server/ads-service';
import { MAX_RESOURCE_NAME_LENGTH, MAX_SUBSCRIBED_NAMES } from '../../src/server/request-limits';
import { CLUSTER, ENDPOINT, LISTENER } from '../../src/proto/xds-types';
import { parseInstance } from '../../src/registry/instance';
import { parsePolicy } from '../../src/registry/policy';
import { assertAnsweredBy } from '../../testkit/call-results';
import { useMesh } from '../../testkit/hooks';
import { eventually } from '../../testkit/mesh';
import { RawAdsClient, RawDeltaClient, resourceNames } from '../../testkit/raw-ads-client';
import { ServerProcess } from '../../testkit/server-process';
import { XdsClientProcess } from '../../testkit/xds-client-process';
import { policyLike, registrationLike, validPolicy, validRegistration } from '../unit/properties/arbitraries';

/** Sends raw bytes as one request frame on a new ADS stream; resolves to the stream's status. */
function sendRawFrame(address: string, bytes: Uint8Array): Promise<grpc.StatusObject> {
  const Client = grpc.makeGenericClientConstructor(
    {
      raw: {
        path: `/${ADS_SERVICE_NAME}/StreamAggregatedResources`,
        requestStream: true,
        responseStream: true,
        requestSerialize: (buffer: Buffer) => buffer,
        requestDeserialize: (buffer: Buffer) => buffer,
        responseSerialize: (buffer: Buffer) => buffer,
        responseDeserialize: (buffer: Buffer) => buffer,
      },
    },
    'Raw',
  );
  const client = new Client(address, grpc.credentials.createInsecure());
  const call = (client as unknown as { raw(): grpc.ClientDuplexStream<Buffer, Buffer> }).raw();
  return new Promise((resolve) => {
    call.on('status', (status) => {
      client.close();
      resolve(status);
    });
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.write(Buffer.from(bytes));
    // Decodable garbage leaves the stream open; give the server a moment, then end it ourselves.
    setTimeout(() => call.end(), 200);
  });
}

describe('bad input against the real server', () => {
  const fixture = useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await mesh.addBackend({ id: 'a2', version: 'v1' });
  });

  async function assertStillServing(): Promise<void> {
    assert.equal((await fixture.mesh.server.admin('/healthz')).status, 200);
    const client = fixture.track(
      new RawAdsClient(fixture.mesh.server.xdsAddress, { id: 'healthy', user_agent_name: 'raw' }),
    );
    client.send({ type_url: LISTENER.typeUrl, resource_names: ['app'] });
    assert.deepEqual(resourceNames(await client.next()), ['app']);
  }

  it('garbage frames end only their own stream', async () => {
    const frames = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { numRuns: 40, seed: 42 });
    let refused = 0;
    for (const frame of frames) {
      const status = await sendRawFrame(fixture.mesh.server.xdsAddress, frame);
      if (status.code !== grpc.status.OK && status.code !== grpc.status.CANCELLED) refused++;
    }
    console.log(
      `# ${refused} of ${frames.length} garbage frames refused by the server, the rest were valid protobuf`,
    );
    assert.ok(refused > 0);
    await assertStillServing();
  });

  it('refuses requests over the size and name limits with a clear status', async () => {
    const expectRefused = async (
      client: RawAdsClient | RawDeltaClient,
      code: grpc.status,
      details: RegExp,
    ): Promise<void> => {
      const status = await client.status;
      assert.equal(status.code, code, `${status.code} ${status.details}`);
      assert.match(status.details, details);
    };
    const address = fixture.mesh.server.xdsAddress;

    const oversized = fixture.track(new RawAdsClient(address));
    oversized.send({ type_url: CLUSTER.typeUrl, resource_names: ['x'.repeat(5 * 1024 * 1024)] });
    await expectRefused(oversized, grpc.status.RESOURCE_EXHAUSTED, /Received message larger than max/);

    const longName = fixture.track(new RawAdsClient(address));
    longName.send({ type_url: CLUSTER.typeUrl, resource_names: ['n'.repeat(MAX_RESOURCE_NAME_LENGTH + 1)] });
    await expectRefused(
      longName,
      grpc.status.INVALID_ARGUMENT,
      /resource name of 1025 characters; the limit is 1024/,
    );

    const manyNames = fixture.track(new RawAdsClient(address));
    manyNames.send({
      type_url: CLUSTER.typeUrl,
      resource_names: Array.from({ length: MAX_SUBSCRIBED_NAMES + 1 }, (_, i) => `c${i}`),
    });
    await expectRefused(manyNames, grpc.status.RESOURCE_EXHAUSTED, /at most 100000 resource names/);

    const accumulating = fixture.track(new RawDeltaClient(address));
    const half = (from: number): string[] =>
      Array.from({ length: MAX_SUBSCRIBED_NAMES / 2 + 1 }, (_, i) => `e${from + i}`);
    accumulating.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: half(0) });
    await accumulating.next();
    accumulating.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: half(MAX_SUBSCRIBED_NAMES) });
    await expectRefused(accumulating, grpc.status.RESOURCE_EXHAUSTED, /at most 100000 EDS resources/);

    const metrics = (await fixture.mesh.server.admin<string>('/metrics')).body;
    for (const reason of ['name-too-long', 'too-many-names', 'too-many-subscriptions']) {
      assert.match(metrics, new RegExp(`etcd_xds_refused_requests_total\\{reason="${reason}"\\} 1`));
    }
    await assertStillServing();
  });

  it('ends a stream that piles up more than 64 requests while they are held; other streams wait on', async () => {
    // Nothing listens on port 1: the server never gets a catalog, so it holds every request.
    const server = await ServerProcess.start(['--etcd', 'http://127.0.0.1:1']);
    const flooder = new RawAdsClient(server.xdsAddress, { id: 'flooder' });
    const patient = new RawAdsClient(server.xdsAddress, { id: 'patient' });
    try {
      patient.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'] });
      for (let i = 0; i <= 64; i++) flooder.send({ type_url: CLUSTER.typeUrl, resource_names: [`n${i}`] });
      const status = await flooder.status;
      assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED, `${status.code} ${status.details}`);
      assert.match(
        status.details,
        /more than 64 requests sent while the server was starting or busy pushing/,
      );
      const settled = await Promise.race([patient.status.then(() => true), sleep(500).then(() => false)]);
      assert.equal(settled, false, 'the other stream stays open, its request held');
      const metrics = (await server.admin<string>('/metrics')).body;
      assert.match(metrics, /etcd_xds_refused_requests_total\{reason="too-many-held"\} 1/);
    } finally {
      flooder.close();
      patient.close();
      await server.stop();
    }
  });

  it('random registrations and policies in etcd change nothing for a client of a valid service', async () => {
    const mesh = fixture.mesh;
    const client = fixture.track(await XdsClientProcess.start('grpc-js', mesh.bootstrap('bystander')));
    await eventually(
      () => client.call('xds:///app', { metadata: { version: 'v1' }, count: 6 }),
      (r) => assertAnsweredBy(r, ['a1', 'a2']),
    );
    const registrations = fc.sample(fc.oneof(validRegistration, registrationLike), { numRuns: 40, seed: 7 });
    const policies = fc.sample(fc.oneof(validPolicy, policyLike), { numRuns: 15, seed: 7 });
    let invalid = 0;
    for (const [i, value] of registrations.entries()) {
      // A separate service name keeps `app` out of it, whatever the value says.
      const text = JSON.stringify(value).replace(/"name":"app"/g, '"name":"fuzzed"');
      if (!parseInstance(`/services/fuzz/${i}`, text).ok) invalid++;
      await mesh.kv.put(`/services/fuzz/${i}`).value(text);
    }
    for (const [i, value] of policies.entries()) {
      if (!parsePolicy(`/xds/policies/fuzz-${i}`, JSON.stringify(value)).ok) invalid++;
      await mesh.kv.put(`/xds/policies/fuzz-${i}`).value(JSON.stringify(value));
    }
    console.log(
      `# wrote ${registrations.length} registrations and ${policies.length} policies, ${invalid} invalid`,
    );
    await eventually(
      () => mesh.server.admin<{ catalog: { rejected: unknown[] } }>('/debug/config_dump'),
      (dump) => assert.equal(dump.body.catalog.rejected.length, invalid),
    );
    const results = await client.call('xds:///app', { metadata: { version: 'v1' }, count: 20 });
    assertAnsweredBy(results, ['a1', 'a2']);
    await assertStillServing();
  });
});
