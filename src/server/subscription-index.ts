// Which streams subscribe to which resources, so a change wakes only the streams it concerns.
import type { XdsType } from '../proto/xds-types';
import type { ChangeSet } from '../cache/snapshot';

export class SubscriptionIndex<S> {
  private readonly byName = new Map<XdsType, Map<string, Set<S>>>();
  private readonly wildcards = new Map<XdsType, Set<S>>();

  add(type: XdsType, name: string, stream: S): void {
    let names = this.byName.get(type);
    if (names === undefined) {
      names = new Map();
      this.byName.set(type, names);
    }
    let streams = names.get(name);
    if (streams === undefined) {
      streams = new Set();
      names.set(name, streams);
    }
    streams.add(stream);
  }

  remove(type: XdsType, name: string, stream: S): void {
    const names = this.byName.get(type);
    const streams = names?.get(name);
    if (streams === undefined) return;
    streams.delete(stream);
    if (streams.size === 0) names!.delete(name);
  }

  setWildcard(type: XdsType, stream: S, wildcard: boolean): void {
    let streams = this.wildcards.get(type);
    if (streams === undefined) {
      streams = new Set();
      this.wildcards.set(type, streams);
    }
    if (wildcard) streams.add(stream);
    else streams.delete(stream);
  }

  /** Whether no stream subscribes to anything. */
  isEmpty(): boolean {
    for (const names of this.byName.values()) if (names.size > 0) return false;
    for (const streams of this.wildcards.values()) if (streams.size > 0) return false;
    return true;
  }

  /** Streams subscribed to any changed resource. */
  affected(changes: ChangeSet): Set<S> {
    const result = new Set<S>();
    for (const [type, { updated, removed }] of changes) {
      for (const stream of this.wildcards.get(type) ?? []) result.add(stream);
      const names = this.byName.get(type);
      if (names === undefined) continue;
      for (const set of [updated, removed]) {
        for (const name of set) for (const stream of names.get(name) ?? []) result.add(stream);
      }
    }
    return result;
  }
}
