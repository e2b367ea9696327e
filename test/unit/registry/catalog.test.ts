import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CatalogBuilder } from '../../../src/registry/catalog';

const reg = (name: string, id: string, version: string, address: string): string =>
  JSON.stringify({ name, id, version, address });

describe('CatalogBuilder', () => {
  it('groups instances by service, sorted by key, with services sorted by name', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/b/2', reg('b', '2', 'v1', '10.0.0.2:80'));
    builder.putRegistration('/services/a/9', reg('a', '9', 'v1', '10.0.0.9:80'));
    builder.putRegistration('/services/a/1', reg('a', '1', 'v2', '10.0.0.1:80'));
    const catalog = builder.snapshot(7);
    assert.equal(catalog.revision, 7);
    assert.deepEqual([...catalog.services.keys()], ['a', 'b']);
    assert.deepEqual(
      catalog.services.get('a')!.instances.map((i) => i.key),
      ['/services/a/1', '/services/a/9'],
    );
    assert.equal(catalog.instanceCount, 3);
  });

  it('shares unchanged services between snapshots and rebuilds changed ones', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/a/1', reg('a', '1', 'v1', '10.0.0.1:80'));
    builder.putRegistration('/services/b/1', reg('b', '1', 'v1', '10.0.0.2:80'));
    const first = builder.snapshot(1);
    builder.putRegistration('/services/b/2', reg('b', '2', 'v1', '10.0.0.3:80'));
    const second = builder.snapshot(2);
    assert.equal(second.services.get('a'), first.services.get('a'));
    assert.notEqual(second.services.get('b'), first.services.get('b'));
    assert.equal(second.services.get('b')!.instances.length, 2);
  });

  it('moves an instance when its value names another service', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/x/1', reg('a', '1', 'v1', '10.0.0.1:80'));
    builder.snapshot(1);
    builder.putRegistration('/services/x/1', reg('b', '1', 'v1', '10.0.0.1:80'));
    const catalog = builder.snapshot(2);
    assert.deepEqual([...catalog.services.keys()], ['b']);
  });

  it('a bad registration is rejected by key and leaves every other instance alone', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/a/1', reg('a', '1', 'v1', '10.0.0.1:80'));
    const before = builder.snapshot(1);
    const outcome = builder.putRegistration('/services/a/2', '{"name":"a","address":"nope"}');
    assert.equal(outcome.kind, 'rejected');
    const after = builder.snapshot(2);
    assert.equal(after.services.get('a'), before.services.get('a'));
    assert.equal(after.rejected.get('/services/a/2')?.problem.code, 'EXDS_BAD_REGISTRATION');
    builder.putRegistration('/services/a/2', reg('a', '2', 'v1', '10.0.0.2:80'));
    const fixed = builder.snapshot(3);
    assert.equal(fixed.rejected.size, 0);
    assert.equal(fixed.services.get('a')!.instances.length, 2);
  });

  it('replacing a valid registration with an invalid one removes the instance', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/a/1', reg('a', '1', 'v1', '10.0.0.1:80'));
    builder.putRegistration('/services/a/2', reg('a', '2', 'v1', '10.0.0.2:80'));
    builder.snapshot(1);
    builder.putRegistration('/services/a/1', 'garbage');
    const catalog = builder.snapshot(2);
    assert.deepEqual(
      catalog.services.get('a')!.instances.map((i) => i.id),
      ['2'],
    );
    assert.ok(catalog.rejected.has('/services/a/1'));
  });

  it('a service exists while it has an instance or a valid policy', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putPolicy('/xds/policies/a', '{"defaultVersion":"v1"}');
    builder.putPolicy('/xds/policies/b', '{"bad":true}');
    let catalog = builder.snapshot(1);
    assert.deepEqual([...catalog.services.keys()], ['a']);
    assert.equal(catalog.services.get('a')!.instances.length, 0);
    assert.equal(catalog.rejected.get('/xds/policies/b')?.kind, 'policy');
    builder.deletePolicy('/xds/policies/a');
    builder.deletePolicy('/xds/policies/b');
    catalog = builder.snapshot(2);
    assert.equal(catalog.services.size, 0);
    assert.equal(catalog.rejected.size, 0);
  });

  it('an invalid policy leaves the service on the default policy', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/a/1', reg('a', '1', 'v1', '10.0.0.1:80'));
    builder.putPolicy('/xds/policies/a', '{"defaultVersion":"v1"}');
    assert.equal(builder.snapshot(1).services.get('a')!.policy.defaultVersion, 'v1');
    builder.putPolicy('/xds/policies/a', '{"defaultVersion":"v 1"}');
    const catalog = builder.snapshot(2);
    assert.equal(catalog.services.get('a')!.policy.key, undefined);
    assert.equal(catalog.services.get('a')!.policy.defaultVersion, undefined);
    assert.equal(catalog.rejected.get('/xds/policies/a')?.problem.code, 'EXDS_BAD_POLICY');
  });

  it('a second key registering the same address is shadowed until the first goes away', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/a/1', reg('a', '1', 'v1', '10.0.0.1:80'));
    builder.putRegistration('/services/a/2', reg('a', '2', 'v2', '10.0.0.1:80'));
    let service = builder.snapshot(1).services.get('a')!;
    assert.deepEqual(
      service.instances.map((i) => i.id),
      ['1'],
    );
    assert.deepEqual(service.shadowed, [
      { key: '/services/a/2', address: '10.0.0.1:80', shadowedBy: '/services/a/1' },
    ]);
    builder.deleteRegistration('/services/a/1');
    service = builder.snapshot(2).services.get('a')!;
    assert.deepEqual(
      service.instances.map((i) => i.id),
      ['2'],
    );
    assert.deepEqual(service.shadowed, []);
  });

  it('clear() forgets everything before a re-list', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/a/1', reg('a', '1', 'v1', '10.0.0.1:80'));
    builder.putRegistration('/services/a/2', 'bad');
    builder.snapshot(1);
    builder.clear();
    builder.putRegistration('/services/b/1', reg('b', '1', 'v1', '10.0.0.1:80'));
    const catalog = builder.snapshot(5);
    assert.deepEqual([...catalog.services.keys()], ['b']);
    assert.equal(catalog.rejected.size, 0);
    assert.equal(catalog.instanceCount, 1);
  });
});
