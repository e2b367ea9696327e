// The xDS gRPC server: accepts ADS streams, feeds their requests to StreamState, and pushes
// snapshot changes to the streams they concern.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { Metrics } from '../metrics';
import type { ChangeSet, Snapshot } from '../cache/snapshot';
import type { SnapshotCache } from '../cache/snapshot-cache';
import { ADS_SERVICE, type OutgoingResponse } from './ads-service';
import type { Flavour } from '../translate/flavours';
import { clientProfile, type ClientProfile } from './client-kind';
import { StreamState, type RequestResult } from './stream-state';
import { SubscriptionIndex } from './subscription-index';

type AdsCall = grpc.ServerDuplexStream<DiscoveryRequest__Output, OutgoingResponse>;

export interface StreamView {
  readonly state: StreamState;
  readonly profile: ClientProfile | undefined;
}

/** Requests a stream may send before the first snapshot exists; clients send one per type. */
const MAX_REQUESTS_BEFORE_READY = 64;

interface ActiveStream {
  readonly state: StreamState;
  readonly call: AdsCall;
  /** Known from the first request (its node). */
  profile: ClientProfile | undefined;
  /** Requests received before the first snapshot; answered once it exists. */
  waiting: DiscoveryRequest__Output[] | undefined;
  closed: boolean;
}

export interface XdsServerOptions {
  readonly cache: SnapshotCache;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly credentials?: grpc.ServerCredentials;
}

export class XdsServer {
  private readonly server: grpc.Server;
  private readonly streams = new Set<ActiveStream>();
  private readonly indexes = new Map<Flavour, SubscriptionIndex<ActiveStream>>();
  /** Streams with requests held until the first snapshot exists. */
  private readonly waiting = new Set<ActiveStream>();
  /** Open streams per flavour, so a flavour's snapshots are dropped once no client needs them. */
  private readonly flavourStreams = new Map<Flavour, number>();
  private readonly unsubscribe: () => void;
  private nextStreamId = 1;
  private closing = false;

  constructor(private readonly options: XdsServerOptions) {
    this.server = new grpc.Server({
      // Find clients that vanished without closing their stream.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
    this.server.addService(ADS_SERVICE, {
      StreamAggregatedResources: (call: AdsCall) => this.accept(call),
    });
    this.unsubscribe = options.cache.subscribe((flavour, snapshot, changes, previous) =>
      this.onSnapshot(flavour, snapshot, changes, previous),
    );
  }

  /** Binds and starts serving; resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(
        address,
        this.options.credentials ?? grpc.ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      );
    });
  }

  /**
   * Stops accepting streams, ends the open ones with OK (clients reconnect, to another replica
   * if there is one) and resolves once all are closed, forcing them after `graceMs`.
   */
  async shutdown(graceMs = 5_000): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    const drained = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    for (const stream of this.streams) this.close(stream);
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.options.logger.warn(
          { streams: this.streams.size },
          'streams did not close in time; forcing shutdown',
        );
        this.server.forceShutdown();
        resolve();
      }, graceMs);
    });
    await Promise.race([drained, forced]);
    clearTimeout(timer);
  }

  /** Read-only view of the connected streams, for /debug/clients. */
  streamViews(): StreamView[] {
    return [...this.streams].map((stream) => ({ state: stream.state, profile: stream.profile }));
  }

  private accept(call: AdsCall): void {
    const { logger } = this.options;
    if (this.closing) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server is shutting down' });
      return;
    }
    const state = new StreamState(this.nextStreamId++, call.getPeer(), Date.now());
    const stream: ActiveStream = {
      state,
      call,
      profile: undefined,
      waiting: undefined,
      closed: false,
    };
    this.streams.add(stream);
    logger.debug({ stream: state.id, peer: state.peer }, 'stream opened');

    call.on('data', (request: DiscoveryRequest__Output) => {
      try {
        this.onRequest(stream, request);
      } catch (error) {
        logger.error({ err: error, stream: state.id }, 'failed to handle a DiscoveryRequest');
        call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error handling the request' });
        this.forget(stream);
      }
    });
    call.on('end', () => {
      this.close(stream);
    });
    call.on('error', (error) => {
      logger.debug({ stream: state.id, err: error }, 'stream error');
      this.forget(stream);
    });
    call.on('cancelled', () => this.forget(stream));
    call.on('close', () => this.forget(stream));
  }

  private onRequest(stream: ActiveStream, request: DiscoveryRequest__Output): void {
    if (stream.closed) return;
    if (stream.profile === undefined) {
      stream.profile = clientProfile(request.node);
      const flavour = stream.profile.flavour;
      this.flavourStreams.set(flavour, (this.flavourStreams.get(flavour) ?? 0) + 1);
      this.options.metrics.connectedStreams.inc({ client: stream.profile.kind });
      this.options.logger.info(
        {
          stream: stream.state.id,
          node: request.node?.id,
          client: stream.profile.kind,
          flavour: stream.profile.flavour,
          peer: stream.state.peer,
        },
        'xDS client connected',
      );
    }
    if (this.options.cache.current() === undefined || stream.waiting !== undefined) {
      // Answering before the first catalog is translated would tell clients their service does not exist.
      stream.waiting ??= [];
      if (stream.waiting.length >= MAX_REQUESTS_BEFORE_READY) {
        stream.call.emit('error', {
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: `more than ${MAX_REQUESTS_BEFORE_READY} requests before the server was ready`,
        });
        this.forget(stream);
        return;
      }
      stream.waiting.push(request);
      this.waiting.add(stream);
      return;
    }
    this.handle(stream, request);
  }

  private handle(stream: ActiveStream, request: DiscoveryRequest__Output): void {
    const snapshot = this.options.cache.current(stream.profile!.flavour)!;
    this.apply(stream, stream.state.handleRequest(request, snapshot), request);
  }

  private index(flavour: Flavour): SubscriptionIndex<ActiveStream> {
    let index = this.indexes.get(flavour);
    if (index === undefined) {
      index = new SubscriptionIndex();
      this.indexes.set(flavour, index);
    }
    return index;
  }

  private apply(stream: ActiveStream, result: RequestResult, request: DiscoveryRequest__Output): void {
    const { metrics, logger } = this.options;
    const typeLabel = result.type?.short ?? 'unknown';
    metrics.requests.inc({ type: typeLabel, outcome: result.outcome });
    if (result.outcome === 'nack') {
      metrics.nacks.inc({ type: typeLabel });
      logger.warn(
        {
          stream: stream.state.id,
          node: stream.state.node?.id,
          type: typeLabel,
          error: request.error_detail?.message,
        },
        'client rejected a response (NACK); it keeps its last accepted version',
      );
    } else if (result.outcome === 'unknown-type') {
      logger.warn(
        { stream: stream.state.id, typeUrl: request.type_url },
        'request for an unsupported resource type',
      );
    }
    if (result.delta !== undefined) {
      const index = this.index(stream.profile!.flavour);
      const { type, added, removed, wildcard } = result.delta;
      for (const name of added) index.add(type, name, stream);
      for (const name of removed) index.remove(type, name, stream);
      index.setWildcard(type, stream, wildcard);
    }
    if (result.response !== undefined) this.send(stream, [result.response]);
  }

  private onSnapshot(
    flavour: Flavour,
    snapshot: Snapshot,
    changes: ChangeSet,
    previous: Snapshot | undefined,
  ): void {
    for (const stream of this.waiting) {
      const requests = stream.waiting ?? [];
      stream.waiting = undefined;
      for (const request of requests) this.handle(stream, request);
    }
    this.waiting.clear();
    for (const stream of this.index(flavour).affected(changes)) {
      if (stream.closed) continue;
      this.send(stream, stream.state.handleSnapshot(snapshot, changes, previous));
    }
  }

  private send(stream: ActiveStream, responses: readonly OutgoingResponse[]): void {
    const { metrics } = this.options;
    for (const response of responses) {
      if (stream.closed) return;
      stream.call.write(response);
      this.options.logger.debug(
        {
          stream: stream.state.id,
          type: response.type.short,
          version: response.versionInfo,
          nonce: response.nonce,
          resources: response.resources.map((r) => r.name),
        },
        'sent',
      );
      metrics.pushes.inc({ type: response.type.short });
      metrics.pushedResources.inc({ type: response.type.short }, response.resources.length);
    }
  }

  private close(stream: ActiveStream): void {
    if (!stream.closed) stream.call.end();
    this.forget(stream);
  }

  private forget(stream: ActiveStream): void {
    if (!this.streams.delete(stream)) return;
    stream.closed = true;
    this.waiting.delete(stream);
    if (stream.profile !== undefined) {
      const index = this.index(stream.profile.flavour);
      for (const [type, name] of stream.state.subscribedNames()) index.remove(type, name, stream);
      for (const type of stream.state.subscriptions.keys()) index.setWildcard(type, stream, false);
      this.options.metrics.connectedStreams.dec({ client: stream.profile.kind });
      const left = (this.flavourStreams.get(stream.profile.flavour) ?? 1) - 1;
      this.flavourStreams.set(stream.profile.flavour, left);
      if (left === 0) this.options.cache.release(stream.profile.flavour);
    }
    this.options.logger.debug({ stream: stream.state.id }, 'stream closed');
  }
}
