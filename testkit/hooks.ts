// node:test hooks shared by suites that need a throwaway etcd.
import { after, before } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdProcess } from './etcd';
import { Mesh } from './mesh';

export interface EtcdFixture {
  readonly etcd: EtcdProcess;
  /** A client for the test's own reads and writes. */
  readonly kv: Etcd3;
}

/** Starts an etcd before the suite's tests and stops it after them. */
export function useEtcd(): EtcdFixture {
  let etcd: EtcdProcess | undefined;
  let kv: Etcd3 | undefined;
  before(async () => {
    etcd = await EtcdProcess.start();
    kv = new Etcd3({ hosts: etcd.url });
  });
  after(async () => {
    kv?.close();
    await etcd?.stop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useEtcd() values are only available inside tests');
    return value;
  };
  return {
    get etcd() {
      return ready(etcd);
    },
    get kv() {
      return ready(kv);
    },
  };
}

type Closeable = { close(): void } | { stop(): Promise<void> };

export interface MeshFixture {
  readonly mesh: Mesh;
  /** Closes (or stops) `closeable` when the suite ends, before the mesh stops. */
  track<T extends Closeable>(closeable: T): T;
}

/** Starts a Mesh (and `setup` on it) before the suite's tests; stops it and tracked clients after. */
export function useMesh(
  setup: (mesh: Mesh) => Promise<void> = () => Promise.resolve(),
  serverArgs: readonly string[] = [],
): MeshFixture {
  let mesh: Mesh | undefined;
  const tracked: Closeable[] = [];
  before(async () => {
    mesh = await Mesh.start(serverArgs);
    await setup(mesh);
  });
  after(async () => {
    for (const closeable of tracked) {
      if ('stop' in closeable) await closeable.stop();
      else closeable.close();
    }
    await mesh?.stop();
  });
  return {
    get mesh() {
      if (mesh === undefined) throw new Error('useMesh() values are only available inside tests');
      return mesh;
    },
    track(closeable) {
      tracked.push(closeable);
      return closeable;
    },
  };
}
