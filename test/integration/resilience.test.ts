// Resilience policy (contract §8) against backends that really misbehave, through every client
// stack: grpc-js-xds, Debian's C-core, PyPI grpcio, grpc-go, grpc-java and Envoy. Timeouts cut slow
// calls at the policy's time (a route's own timeout wins), and retries turn a backend that fails
// every other attempt into 0 failed calls, counted on the backend.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EchoBackend } from '../../testkit/echo-backend';
import type { RunningBackend } from '../../testkit/mesh';
import { EnvoyRoutingClient } from '../../testkit/envoy-client';
import { CallLoad } from '../../testkit/load';
import { grpcBootstrap } from '../../src/cli/bootstrap';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import {
  clientAvailable,
  XdsClientProcess,
  type CallResult,
  type ClientLanguage,
} from '../../testkit/xds-client-process';
import type { RoutingClient } from './routing-scenarios';

const LANGUAGES: ClientLanguage[] = ['grpc-js', 'python', 'grpcio-pypi', 'grpc-go', 'grpc-java'];
const STACKS = [...LANGUAGES, 'envoy'] as const;
type Stack = (typeof STACKS)[number];

/** Stacks that apply least_request (grpc-go ≥ 1.73, grpc-java ≥ 1.74, Envoy); the others get round robin. */
const LEAST_REQUEST: ReadonlySet<Stack> = new Set(['grpc-go', 'grpc-java', 'envoy']);

/** C-core clients get no route timeouts (flavours grpc-c-core, grpc-no-ring-hash; see flavour.ts). */
const C_CORE: ReadonlySet<Stack> = new Set(['python', 'grpcio-pypi']);

const DEADLINE_EXCEEDED = 4;
const UNAVAILABLE = 14;

const failures = (results: readonly CallResult[]): CallResult[] => results.filter((r) => !r.ok);

describe('resilience policy against misbehaving backends, on every client stack', () => {
  let mesh: Mesh;
  let envoyPort: number;
  let slow: EchoBackend;
  let flaky: EchoBackend;
  /** Two instances of `drain`; the second is marked draining. */
  const draining: RunningBackend[] = [];
  /** Four instances of `outlier`; the last one is made to fail every call. */
  const outliers: EchoBackend[] = [];
  /** Four instances of `busy` (lbPolicy least_request); the last one is made slow. */
  const busy: EchoBackend[] = [];

  before(async () => {
    const missing = LANGUAGES.filter((language) => !clientAvailable(language));
    assert.deepEqual(missing, [], `interop clients not built: run scripts/build-interop.sh`);
    envoyPort = await freePort();
    mesh = await Mesh.start(['--envoy-listener', `127.0.0.1:${envoyPort}`]);
    slow = (await mesh.addBackend({ service: 'slow', id: 's1', version: 'v1' })).backend;
    flaky = (await mesh.addBackend({ service: 'flaky', id: 'f1', version: 'v1' })).backend;
    for (const id of ['d1', 'd2'])
      draining.push(await mesh.addBackend({ service: 'drain', id, version: 'v1' }));
    for (const id of ['o1', 'o2', 'o3', 'o4'])
      outliers.push((await mesh.addBackend({ service: 'outlier', id, version: 'v1' })).backend);
    for (const id of ['b1', 'b2', 'b3', 'b4'])
      busy.push((await mesh.addBackend({ service: 'busy', id, version: 'v1' })).backend);
    await mesh.putPolicy('busy', { lbPolicy: 'least_request' });
  });

  after(async () => {
    await mesh?.stop();
  });

  async function startClient(stack: Stack, zone?: string): Promise<RoutingClient> {
    const nodeId = `resilience-${stack}${zone === undefined ? '' : `-${zone}`}`;
    if (stack === 'envoy')
      return EnvoyRoutingClient.start(mesh.server.xdsAddress, envoyPort, { nodeId, zone });
    return XdsClientProcess.start(stack, grpcBootstrap({ servers: [mesh.server.xdsAddress], nodeId, zone }));
  }

  /** Waits until the grpc flavour's resources of `service` show the policy (`pattern`). */
  async function waitForPolicy(service: string, pattern: RegExp): Promise<void> {
    await eventually(
      () => mesh.server.admin<object>(`/debug/config_dump?service=${service}&type=CDS`),
      ({ body }) => assert.match(JSON.stringify(body), pattern),
    );
  }

  async function within<T>(
    client: RoutingClient,
    attempt: () => T | Promise<T>,
    check: (value: T) => void,
  ): Promise<T> {
    try {
      return (await eventually(attempt, check, { timeoutMs: client.language === 'python' ? 30_000 : 20_000 }))
        .value;
    } catch (error) {
      throw new Error(
        `${client.language} ${client.version}: ${(error as Error).message}\n${client.log.slice(-2000)}`,
      );
    }
  }

  for (const stack of STACKS) {
    it(`${stack}: with zone affinity clients stay in their zone, fail over when it dies, and spread without one`, async () => {
      const service = `near-${stack}`;
      const ids = { z1: [`${stack}-n1a`, `${stack}-n1b`], z2: [`${stack}-n2a`] };
      for (const [zone, members] of Object.entries(ids))
        for (const id of members) await mesh.addBackend({ service, id, version: 'v1', zone });
      await mesh.putPolicy(service, { zoneAffinity: true });
      const answered = (results: CallResult[]): string[] =>
        [...new Set(results.map((r) => (r.ok ? r.id : `failed ${r.code}`)))].sort();
      // One client at a time (Envoys share the listener address).
      for (const [zone, expected] of [
        ['z2', ids.z2],
        [undefined, [...ids.z1, ...ids.z2]],
      ] as const) {
        const client = await startClient(stack, zone);
        try {
          await within(
            client,
            () => client.call(`xds:///${service}`, { count: 30 }),
            (results) => assert.deepEqual(answered(results), [...expected].sort()),
          );
        } finally {
          await client.stop();
        }
      }
      const client = await startClient(stack, 'z1');
      const load = new CallLoad(client, `xds:///${service}`);
      try {
        await within(
          client,
          () => [...load.answeredBy.keys()].sort(),
          (seen) => assert.deepEqual(seen, ids.z1),
        );
        load.reset();
        // Every z1 instance dies without deregistering: the client fails over to priority 1. The
        // call in flight at the kill is lost on every client, so the window covers 200 calls to
        // z2: over ~55 (the first version) that one call alone was 1.8 %.
        for (const id of ids.z1) await mesh.backends.get(id)!.backend.stop(0);
        await within(
          client,
          () => load.answeredBy.get(ids.z2[0]) ?? 0,
          (n) => assert.ok(n >= 200),
        );
        await load.stop();
        const failedShare = load.failures.length / load.calls;
        console.log(`# ${stack} ${client.version}: z1 died; failover to z2: ${load.describe()}`);
        assert.ok(
          failedShare <= 0.01,
          `${(failedShare * 100).toFixed(1)} % of calls failed over the failover`,
        );
      } finally {
        await load.stop();
        await client.stop();
        await mesh.deletePolicy(service);
      }
    });

    it(`${stack}: a rolling restart of every instance (each drains, stops, is replaced) costs 0 failed calls`, async () => {
      const ids = [`${stack}-r1`, `${stack}-r2`];
      for (const id of ids) await mesh.addBackend({ service: `roll-${stack}`, id, version: 'v1' });
      const client = await startClient(stack);
      const load = new CallLoad(client, `xds:///roll-${stack}`);
      try {
        await within(
          client,
          () => load.answeredBy.size,
          (n) => assert.equal(n, 2),
        );
        for (const [i, id] of ids.entries()) {
          await mesh.drainBackend(id, 1_000);
          const replacement = `${stack}-r${i + 3}`;
          await mesh.addBackend({ service: `roll-${stack}`, id: replacement, version: 'v1' });
          await within(
            client,
            () => load.answeredBy.get(replacement) ?? 0,
            (n) => assert.ok(n > 0),
          );
        }
        await load.stop();
        console.log(`# ${stack} ${client.version}: rolling restart of 2 instances: ${load.describe()}`);
        assert.deepEqual(load.failures, []);
        assert.ok(load.calls > 0);
      } finally {
        await load.stop();
        await client.stop();
      }
    });

    it(`${stack}: an instance marked draining gets no new calls within 1 s (contract §9)`, async () => {
      const client = await startClient(stack);
      const { registrar } = draining[1];
      const write = (status: string) =>
        mesh.kv
          .put(registrar.key)
          .value(JSON.stringify({ ...(JSON.parse(registrar.value) as object), status }));
      try {
        await within(
          client,
          () => client.call('xds:///drain', { count: 20 }),
          (results) =>
            assert.deepEqual([...new Set(results.map((r) => (r.ok ? r.id : r.code)))].sort(), ['d1', 'd2']),
        );
        await write('draining');
        const written = performance.now();
        await within(
          client,
          () => client.call('xds:///drain', { count: 4 }),
          (results) => assert.deepEqual([...new Set(results.map((r) => (r.ok ? r.id : r.code)))], ['d1']),
        );
        const ms = Math.round(performance.now() - written);
        const after = await client.call('xds:///drain', { count: 20 });
        console.log(`# ${stack} ${client.version}: d2 marked draining; new calls only to d1 after ${ms} ms`);
        assert.deepEqual([...new Set(after.map((r) => (r.ok ? r.id : r.code)))], ['d1']);
        assert.ok(ms <= 1_000, `${ms} ms`);
      } finally {
        await write('serving');
        await client.stop();
      }
    });

    it(
      stack === 'grpc-java'
        ? `${stack}: maxRequests is served but not enforced by grpc-java 1.85 (all of three concurrent calls go through)`
        : `${stack}: maxRequests 2 fails the third of three concurrent slow calls with UNAVAILABLE at the client`,
      async () => {
        slow.misbehave({ delayMs: 1_000 });
        await mesh.putPolicy('slow', { maxRequests: 2 });
        await waitForPolicy('slow', /circuit_breakers/);
        const client = await startClient(stack);
        try {
          const received = slow.received;
          if (stack === 'grpc-java') {
            // Measured: 5 of 5 concurrent 1 s calls succeed in ~1.1 s under maxRequests 2 (README).
            // Should grpc-java start enforcing it, this fails and the README needs updating.
            const batch = await client.call('xds:///slow', { count: 3, concurrent: true });
            assert.deepEqual(failures(batch), []);
            console.log(`# ${stack} ${client.version}: 3 concurrent calls under maxRequests 2, none refused`);
            return;
          }
          const results = await within(
            client,
            () => client.call('xds:///slow', { count: 3, concurrent: true }),
            (batch) => {
              assert.equal(batch.filter((r) => r.ok).length, 2, JSON.stringify(batch));
              assert.deepEqual(
                failures(batch).map((r) => (r.ok ? 'ok' : r.code)),
                [UNAVAILABLE],
              );
            },
          );
          console.log(
            `# ${stack} ${client.version}: 3 concurrent 1 s calls under maxRequests 2: ${results.filter((r) => r.ok).length} ok, 1 refused (${JSON.stringify(failures(results)[0])}); the backend saw ${slow.received - received}`,
          );
        } finally {
          slow.misbehave({});
          await mesh.deletePolicy('slow');
          await client.stop();
        }
      },
    );

    it(`${stack}: outlier detection ejects the one instance of four that fails every call, and takes it back`, async () => {
      const bad = outliers[3];
      bad.misbehave({ failFraction: 1, code: UNAVAILABLE });
      await mesh.putPolicy('outlier', {
        outlierDetection: {
          interval: '1s',
          baseEjectionTime: '3s',
          maxEjectionPercent: 25,
          failurePercentage: { threshold: 50, minimumHosts: 4, requestVolume: 5 },
        },
      });
      // The client starts with the policy in place: grpc-js 1.14 applies outlier detection that a
      // cluster gains later only on channels created after it (README, client behaviour).
      await waitForPolicy('outlier', /outlier_detection/);
      const client = await startClient(stack);
      try {
        const started = performance.now();
        // Calls keep going, so o4 reaches the request volume and is ejected at an interval's end.
        await within(
          client,
          () => client.call('xds:///outlier', { count: 20 }),
          (results) => assert.deepEqual(failures(results), []),
        );
        const ejectedAfter = Math.round(performance.now() - started);
        const after = await client.call('xds:///outlier', { count: 100 });
        const ok = after.filter((r) => r.ok).length;
        console.log(
          `# ${stack} ${client.version}: o4 (failing every call) ejected within ${ejectedAfter} ms of the first call; then ${ok}/100 calls succeeded`,
        );
        assert.ok(ok >= 99, `${ok}/100 succeeded after the ejection`);
        // Healthy again: back in rotation once its 3 s ejection ends.
        bad.misbehave({});
        await within(
          client,
          () => client.call('xds:///outlier', { count: 20 }),
          (results) =>
            assert.ok(
              results.some((r) => r.ok && r.id === 'o4'),
              'o4 is not back',
            ),
        );
      } finally {
        bad.misbehave({});
        await mesh.deletePolicy('outlier');
        await client.stop();
      }
    });

    it(
      C_CORE.has(stack)
        ? `${stack}: served without route timeouts (C-core ends calls long before them), so a 1.5 s call completes`
        : `${stack}: a 300ms timeout cuts 1.5 s calls with DEADLINE_EXCEEDED; a route's own timeout wins`,
      async () => {
        const client = await startClient(stack);
        try {
          slow.misbehave({ delayMs: 1_500 });
          await mesh.putPolicy('slow', {
            timeout: '300ms',
            routes: [
              { match: { headers: [{ name: 'x-patient', present: true }] }, version: 'v1', timeout: '3s' },
            ],
          });
          if (C_CORE.has(stack)) {
            // What this flavour is served has no timeout at all; what other gRPC clients get has it.
            await eventually(
              () =>
                Promise.all(
                  ['grpc', 'grpc-c-core'].map((f) =>
                    mesh.server.admin<object>(`/debug/config_dump?flavour=${f}&service=slow&type=RDS`),
                  ),
                ),
              ([full, core]) => {
                assert.match(JSON.stringify(full.body), /max_stream_duration/);
                assert.doesNotMatch(JSON.stringify(core.body), /max_stream_duration/);
              },
            );
            const started = performance.now();
            const [result] = await client.call('xds:///slow', { count: 1 });
            const ms = Math.round(performance.now() - started);
            console.log(
              `# ${stack} ${client.version}: no timeout served; a 1.5 s call took ${ms} ms: ${result.ok ? 'ok' : result.code}`,
            );
            assert.ok(result.ok, JSON.stringify(result));
            assert.ok(ms >= 1_500, `${ms} ms`);
            return;
          }
          await within(
            client,
            () => client.call('xds:///slow', { count: 1 }),
            (results) => assert.equal(results[0].ok ? 'ok' : results[0].code, DEADLINE_EXCEEDED),
          );
          const elapsed: number[] = [];
          for (let i = 0; i < 3; i++) {
            const started = performance.now();
            const [result] = await client.call('xds:///slow', { count: 1 });
            elapsed.push(Math.round(performance.now() - started));
            assert.equal(result.ok ? 'ok' : result.code, DEADLINE_EXCEEDED, JSON.stringify(result));
          }
          console.log(
            `# ${stack} ${client.version}: timeout 300ms, calls failed after ${elapsed.join(', ')} ms`,
          );
          // 300–600 ms (the issue's bound) with 5 ms for timer granularity (Envoy's fired at 299).
          for (const ms of elapsed) assert.ok(ms >= 295 && ms <= 600, `failed after ${ms} ms`);
          const [patient] = await client.call('xds:///slow', { metadata: { 'x-patient': '1' }, count: 1 });
          assert.ok(
            patient.ok,
            `the route's 3s timeout should let a 1.5 s call finish: ${JSON.stringify(patient)}`,
          );
        } finally {
          slow.misbehave({});
          await mesh.deletePolicy('slow');
          await client.stop();
        }
      },
    );

    it(
      LEAST_REQUEST.has(stack)
        ? `${stack}: least_request sends few calls to the one slow instance of four`
        : `${stack}: least_request is served as round robin (each instance of four gets a quarter)`,
      async () => {
        const client = await startClient(stack);
        const slowOne = busy[3];
        try {
          await within(
            client,
            () => client.call('xds:///busy', { count: 12 }),
            (results) => assert.equal(new Set(results.map((r) => (r.ok ? r.id : 'failed'))).size, 4),
          );
          // Served only to the flavour that can use it (Envoy gets its own clusters); the flavour
          // was built when the client's stream opened.
          const flavour =
            stack === 'envoy' ? 'envoy' : LEAST_REQUEST.has(stack) ? 'grpc-least-request' : 'grpc';
          await eventually(
            () => mesh.server.admin<object>(`/debug/config_dump?flavour=${flavour}&service=busy&type=CDS`),
            ({ body }) =>
              assert.match(
                JSON.stringify(body),
                LEAST_REQUEST.has(stack) ? /"lb_policy":"LEAST_REQUEST"/ : /"lb_policy":"ROUND_ROBIN"/,
              ),
          );
          // 100 calls started 20 ms apart while b4 answers after 2 s: round robin sends it a quarter
          // (25); least request (two random choices, gRFC A48) sends it a call only when both
          // choices fall on it (1 in 16) or it has none in flight, about 7.
          slowOne.misbehave({ delayMs: 2_000 });
          const results = await client.call('xds:///busy', {
            count: 100,
            concurrent: true,
            deadlineMs: 10_000,
          });
          assert.deepEqual(failures(results), []);
          const toSlow = results.filter((r) => r.ok && r.id === 'b4').length;
          console.log(
            `# ${stack} ${client.version}: 100 concurrent calls, lbPolicy least_request, the slow instance got ${toSlow}`,
          );
          if (LEAST_REQUEST.has(stack))
            assert.ok(toSlow <= 15, `the slow instance got ${toSlow} of 100 calls`);
          else assert.ok(toSlow >= 23 && toSlow <= 27, `the slow instance got ${toSlow} of 100 calls`);
        } finally {
          slowOne.misbehave({});
          await client.stop();
        }
      },
    );

    it(`${stack}: retries on unavailable (3 attempts) turn a backend failing every other attempt into 0 failed calls`, async () => {
      const client = await startClient(stack);
      try {
        flaky.misbehave({ failEveryOther: true, code: UNAVAILABLE });
        const without = await within(
          client,
          () => client.call('xds:///flaky', { count: 20 }),
          (results) => assert.ok(failures(results).length > 0, 'no call failed without retries'),
        );
        const failedWithout = failures(without).length;
        assert.ok(
          failures(without).every((r) => !r.ok && r.code === UNAVAILABLE),
          JSON.stringify(failures(without)),
        );

        await mesh.putPolicy('flaky', { retry: { on: ['unavailable'], attempts: 3 } });
        await within(
          client,
          () => client.call('xds:///flaky', { count: 20 }),
          (results) => assert.deepEqual(failures(results), []),
        );
        flaky.misbehave({ failEveryOther: true, code: UNAVAILABLE });
        const retried = await client.call('xds:///flaky', { count: 20 });
        console.log(
          `# ${stack} ${client.version}: 20 calls, ${failedWithout} failed without retries; with retries ${failures(retried).length} failed, ${flaky.received} attempts reached the backend (${flaky.failed} failed on purpose)`,
        );
        assert.deepEqual(failures(retried), []);
        assert.equal(flaky.received, 40, 'each call should take exactly two attempts');
      } finally {
        flaky.misbehave({});
        await mesh.deletePolicy('flaky');
        await client.stop();
      }
    });
  }
});
