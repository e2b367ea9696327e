import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node__Output } from '../../../src/generated/envoy/config/core/v3/Node';
import { clientProfile } from '../../../src/server/client-kind';
import { callerLabels } from '../../../src/translate/caller-labels';

const node = (user_agent_name: string, user_agent_version: string): Node__Output =>
  ({ id: 'n', user_agent_name, user_agent_version }) as Node__Output;

describe('clientProfile', () => {
  const cases: [string, string, string, string][] = [
    ['gRPC Node Pure JS', '1.14.1', 'grpc-js', 'grpc'],
    // What Debian's python3-grpcio 1.51.1 really sends.
    ['gRPC C-core linux Python', 'C-core 29.0.0 Python 1.51.1', 'grpc-c-core', 'grpc-no-ring-hash'],
    ['gRPC C-core linux Python', 'C-core 28.0.0 Python 1.50.0', 'grpc-c-core', 'grpc-no-ring-hash'],
    ['gRPC C-core linux Python', 'C-core 30.0.0 Python 1.52.0', 'grpc-c-core', 'grpc-c-core'],
    ['gRPC C-core linux Python', 'C-core 27.0.0 Python 1.49.1', 'grpc-c-core', 'grpc-c-core'],
    ['gRPC C-core linux', '1.51.3', 'grpc-c-core', 'grpc-no-ring-hash'],
    ['gRPC C-core linux', '1.60.0', 'grpc-c-core', 'grpc-c-core'],
    ['gRPC Go', '1.70.0', 'grpc-go', 'grpc'],
    ['gRPC Go', '1.72.2', 'grpc-go', 'grpc'],
    ['gRPC Go', '1.73.0', 'grpc-go', 'grpc-least-request'],
    ['gRPC Go', '1.85.0', 'grpc-go', 'grpc-least-request'],
    ['gRPC Go', '2.0.0', 'grpc-go', 'grpc-least-request'],
    ['gRPC Go', 'dev', 'grpc-go', 'grpc'],
    ['gRPC Java', '1.68.1', 'grpc-java', 'grpc'],
    ['gRPC Java', '1.73.0', 'grpc-java', 'grpc'],
    ['gRPC Java', '1.74.0', 'grpc-java', 'grpc-least-request'],
    ['gRPC Java', '1.85.1', 'grpc-java', 'grpc-least-request'],
    ['gRPC Node Pure JS', '1.80.0', 'grpc-js', 'grpc'],
    ['envoy', '1.40.0', 'envoy', 'envoy'],
    ['', '', 'other', 'grpc'],
  ];
  for (const [name, version, kind, flavour] of cases) {
    it(`"${name}" ${version} → ${kind}, ${flavour}`, () => {
      assert.deepEqual(clientProfile(node(name, version)), { kind, flavour, labels: new Map() });
    });
  }
  it('node metadata etcd-xds.flavour overrides detection; unknown values are ignored', () => {
    const withFlavour = (flavour: string): Node__Output =>
      ({
        ...node('gRPC Go', '1.70.0'),
        metadata: { fields: { 'etcd-xds.flavour': { stringValue: flavour, kind: 'stringValue' } } },
      }) as unknown as Node__Output;
    assert.deepEqual(clientProfile(withFlavour('envoy')), {
      kind: 'grpc-go',
      flavour: 'envoy',
      labels: new Map([['etcd-xds.flavour', 'envoy']]),
    });
    assert.deepEqual(clientProfile(withFlavour('grpc-no-ring-hash')).flavour, 'grpc-no-ring-hash');
    assert.deepEqual(clientProfile(withFlavour('bogus')).flavour, 'grpc');
  });

  it('a request without a node is served the default flavour', () => {
    assert.deepEqual(clientProfile(null), { kind: 'other', flavour: 'grpc', labels: new Map() });
  });
});

describe('callerLabels', () => {
  const value = (v: object) => v as never;
  it('are the string-valued top-level metadata fields, sorted, plus the locality zone, which wins', () => {
    const labels = callerLabels({
      id: 'n',
      locality: { region: 'r', zone: 'z2', sub_zone: '' },
      metadata: {
        fields: {
          version: value({ kind: 'stringValue', stringValue: 'v2' }),
          service: value({ kind: 'stringValue', stringValue: 'app' }),
          zone: value({ kind: 'stringValue', stringValue: 'z1' }),
          empty: value({ kind: 'stringValue', stringValue: '' }),
          replicas: value({ kind: 'numberValue', numberValue: 3 }),
          canary: value({ kind: 'boolValue', boolValue: true }),
          nested: value({ kind: 'structValue', structValue: { fields: {} } }),
        },
      },
    } as unknown as Node__Output);
    assert.deepEqual(
      [...labels],
      [
        ['empty', ''],
        ['service', 'app'],
        ['version', 'v2'],
        ['zone', 'z2'],
      ],
    );
  });

  it('a metadata zone stands when the locality has none; no node, no labels', () => {
    const labels = callerLabels({
      id: 'n',
      locality: { region: '', zone: '', sub_zone: '' },
      metadata: { fields: { zone: value({ kind: 'stringValue', stringValue: 'z1' }) } },
    } as unknown as Node__Output);
    assert.deepEqual([...labels], [['zone', 'z1']]);
    assert.deepEqual([...callerLabels(null)], []);
  });
});
