// node:test hooks shared by suites that need a throwaway etcd.
import { after, before } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdProcess } from './etcd';

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
