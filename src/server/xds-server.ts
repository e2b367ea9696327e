// The xDS gRPC server: accepts streams (ADS and the per-type services, state of the world and
// delta), feeds their requests to the protocol state machines, and pushes snapshot changes to
// the streams they concern.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { DeltaDiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import { formatDuration } from '../duration';
import type { Metrics } from '../metrics';
import type { XdsType } from '../proto/xds-types';
import type { ChangeSet, Snapshot } from '../cache/snapshot';
import type { SnapshotCache } from '../cache/snapshot-cache';
import { ADS_SERVICE, TYPED_SERVICES, type OutgoingResponse } from './ads-service';
import { clientProfile, type ClientProfile } from './client-kind';
import { DeltaStreamState, type OutgoingDeltaResponse } from './delta-stream-state';
import { HeldChanges } from './held-changes';
import { MAX_REQUEST_BYTES, RequestLimits, type LimitViolation } from './request-limits';
import { NackBackoffs } from './nack-backoff';
import { Observers, type AnyRequest, type Protocol, type RequestOutcome, type XdsObserver } from './observer';
import { PushQueue } from './push-queue';
import { Telemetry, type LatencySink } from './telemetry';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './server-limits';
import { StreamState } from './stream-state';
import { SubscriptionIndex } from './subscription-index';

export type { Protocol } from './observer';

type ActiveStream = {
  readonly onlyType: XdsType | undefined;
  profile: ClientProfile | undefined;
  /** The cache's key for the group of clients that declared what this one did (with profile). */
  clientKey: string | undefined;
  /**
   * Requests held: received before the first snapshot existed, or plain ACKs received while a
   * push was going out (and whatever the stream sent after them); answered in order later.
   */
  waiting: AnyRequest[] | undefined;
  closed: boolean;
  /** When `pendingWrites` last went up from 0 (performance.now()). */
  unflushedSince: number;
  /**
   * Responses written, those whose write callback ran, and those the client has shown it read (a
   * request answering the latest response's nonce: it read that one and every one before it).
   * `pendingWrites` is written − max(flushed, read): the proof can come before the callbacks do.
   */
  writeCounts: { written: number; flushed: number; read: number; lastNonce: string | undefined };
  /** Pushes not written (the client was not reading, or backing off after NACKs), merged. */
  held: HeldChanges | undefined;
  /** The write callback (one per stream rather than one per write). */
  flushed: () => void;
} & (
  | {
      readonly protocol: 'sotw';
      readonly state: StreamState;
      readonly call: grpc.ServerDuplexStream<DiscoveryRequest__Output, OutgoingResponse>;
    }
  | {
      readonly protocol: 'delta';
      readonly state: DeltaStreamState;
      readonly call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, OutgoingDeltaResponse>;
    }
);

export interface StreamView {
  readonly state: StreamState | DeltaStreamState;
  readonly protocol: Protocol;
  /** Set when the stream is a per-type service (LDS, RDS, CDS, EDS) rather than ADS. */
  readonly onlyType: XdsType | undefined;
  readonly profile: ClientProfile | undefined;
  /** The cache's key for its group of clients (set with profile). */
  readonly clientKey: string | undefined;
  /** Responses written that the client has not read yet, and pushes held back meanwhile. */
  readonly writes: { readonly unflushed: number; readonly unflushedMs: number; readonly heldPushes: number };
}

/**
 * Responses written to a stream that its client has not taken yet (the connection's callbacks, or
 * the client's answer to the latest response, say so). While there are any, nothing more is written.
 */
function pendingWrites(stream: ActiveStream): number {
  const { written, flushed, read } = stream.writeCounts;
  return written - Math.max(flushed, read);
}

/** Streams whose held requests are answered per event-loop turn. */
const ANSWER_SLICE = 256;

/** Requests a stream may have held (see `waiting`); clients send one per type. */
const MAX_HELD_REQUESTS = 64;

export interface XdsServerOptions {
  readonly cache: SnapshotCache;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly credentials?: grpc.ServerCredentials;
  readonly limits?: ServerLimits;
  /** Observers besides the server's own (telemetry, NACK backoff, limits), told after them. */
  readonly observers?: readonly XdsObserver[];
  /** Told every push and convergence latency telemetry records (the dashboard's timeline). */
  readonly latency?: LatencySink;
}

export class XdsServer {
  private readonly server: grpc.Server;
  private readonly streams = new Set<ActiveStream>();
  /** Subscriptions per group of clients (cache client key): a snapshot change affects one group. */
  private readonly indexes = new Map<string, SubscriptionIndex<ActiveStream>>();
  /** Streams with requests held (see ActiveStream.waiting). */
  private readonly waiting = new Set<ActiveStream>();
  private readonly unsubscribe: () => void;
  private nextStreamId = 1;
  private closing = false;
  /** Bumped whenever some stream's state changes (what /debug/clients and CSDS show). */
  private generation = 0;
  private readonly pushes = new PushQueue<ActiveStream>(
    (stream, snapshot, changes, previous) => this.push(stream, snapshot, changes, previous),
    { onIdle: () => this.answerHeld() },
  );
  private readonly backoffs = new NackBackoffs();
  /** Metrics, logs, convergence timing, the NACK backoff and the limits, in that order. */
  private readonly observer: Observers;
  private readonly limits: ServerLimits;
  private readonly stallSweep: NodeJS.Timeout;

  constructor(private readonly options: XdsServerOptions) {
    const limits = options.limits ?? DEFAULT_SERVER_LIMITS;
    this.limits = limits;
    this.observer = new Observers([
      new Telemetry(options.logger, options.metrics, options.latency),
      this.backoffs,
      new RequestLimits(limits.maxStreams),
      ...(options.observers ?? []),
    ]);
    this.server = new grpc.Server({
      // Find clients that vanished without closing their stream: a ping every 30 s, answered
      // within gRPC's default 20 s. (With 10 s, an idle C-core 1.51 Python client sometimes
      // answered too late: its connection was closed after 40 s, and it came back 20 s later,
      // missing the changes in between.)
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
      // grpc-js sends GOAWAY at the age (±10 % jitter), and closes the connection after the grace.
      'grpc.max_connection_age_ms': limits.maxConnectionAgeMs,
      'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs,
      'grpc.max_connection_idle_ms': limits.maxConnectionIdleMs,
      // Nothing serves channelz here (the admin endpoints and metrics say what it would), and
      // grpc-js's channelz tracking costs every call an object and four closures (≈ 0.4 KB of an
      // idle stream) and every message a counter update.
      'grpc.enable_channelz': 0,
    });
    // A stalled stream is found within a quarter of the timeout (at most 10 s late).
    const sweepMs = Math.min(10_000, Math.max(100, limits.stallTimeoutMs / 4));
    this.stallSweep = setInterval(() => this.endStalled(), sweepMs);
    this.stallSweep.unref();
    options.metrics.countStalledStreams = () => {
      let stalled = 0;
      for (const stream of this.streams)
        if (stream.held !== undefined && pendingWrites(stream) > 0) stalled++;
      return stalled;
    };
    this.server.addService(ADS_SERVICE, {
      StreamAggregatedResources: (
        call: grpc.ServerDuplexStream<DiscoveryRequest__Output, OutgoingResponse>,
      ) => this.acceptSotw(call, undefined),
      DeltaAggregatedResources: (
        call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, OutgoingDeltaResponse>,
      ) => this.acceptDelta(call, undefined),
    });
    for (const service of TYPED_SERVICES) {
      this.server.addService(service.definition, {
        [service.sotw]: (call: grpc.ServerDuplexStream<DiscoveryRequest__Output, OutgoingResponse>) =>
          this.acceptSotw(call, service.type),
        [service.delta]: (
          call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, OutgoingDeltaResponse>,
        ) => this.acceptDelta(call, service.type),
      });
    }
    this.unsubscribe = options.cache.subscribe((clientKey, snapshot, changes, previous) =>
      this.onSnapshot(clientKey, snapshot, changes, previous),
    );
  }

  /** Adds another service on the same listener (CSDS); before `listen`. */
  addService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    this.server.addService(definition, implementation);
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
    clearInterval(this.stallSweep);
    this.observer.close();
    this.unsubscribe();
    this.pushes.clear();
    const drained = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    for (const stream of this.streams) this.close(stream, 'the server is shutting down');
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

  /** Changes whenever some stream's state does; a view of the streams is current while it does not. */
  get stateGeneration(): number {
    return this.generation;
  }

  /** Read-only view of the connected streams, for /debug/clients and CSDS. */
  streamViews(): StreamView[] {
    const now = performance.now();
    return [...this.streams].map((stream) => {
      const { state, protocol, onlyType, profile, clientKey, unflushedSince, held } = stream;
      const unflushed = pendingWrites(stream);
      return {
        state,
        protocol,
        onlyType,
        profile,
        clientKey,
        writes: {
          unflushed,
          unflushedMs: unflushed === 0 ? 0 : now - unflushedSince,
          heldPushes: held?.pushes ?? 0,
        },
      };
    });
  }

  private acceptSotw(
    call: grpc.ServerDuplexStream<DiscoveryRequest__Output, OutgoingResponse>,
    onlyType: XdsType | undefined,
  ): void {
    if (!this.admit(call)) return;
    const state = new StreamState(this.nextStreamId++, call.getPeer(), Date.now());
    this.track({ protocol: 'sotw', state, call, ...this.freshStream(onlyType) });
  }

  private acceptDelta(
    call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, OutgoingDeltaResponse>,
    onlyType: XdsType | undefined,
  ): void {
    if (!this.admit(call)) return;
    const state = new DeltaStreamState(this.nextStreamId++, call.getPeer(), Date.now());
    this.track({ protocol: 'delta', state, call, ...this.freshStream(onlyType) });
  }

  private freshStream(onlyType: XdsType | undefined): Omit<ActiveStream, 'protocol' | 'state' | 'call'> {
    return {
      onlyType,
      profile: undefined,
      clientKey: undefined,
      waiting: undefined,
      closed: false,
      unflushedSince: 0,
      writeCounts: { written: 0, flushed: 0, read: 0, lastNonce: undefined },
      held: undefined,
      flushed: () => undefined,
    };
  }

  /** Whether a new stream may be served: not while shutting down, nor beyond --max-streams. */
  private admit(call: grpc.ServerDuplexStream<unknown, unknown>): boolean {
    if (this.closing) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server is shutting down' });
      return false;
    }
    const violation = this.observer.streamOpening(call.getPeer(), this.streams.size);
    if (violation === undefined) return true;
    this.observer.streamRefused(undefined, call.getPeer(), violation);
    call.emit('error', { code: violation.code, details: violation.details });
    return false;
  }

  private track(stream: ActiveStream): void {
    const { logger } = this.options;
    const { state, call } = stream;
    stream.flushed = () => this.onFlushed(stream);
    this.streams.add(stream);
    this.generation++;
    this.observer.streamOpened(stream);
    call.on('data', (request: AnyRequest) => {
      try {
        this.onRequest(stream, request);
      } catch (error) {
        logger.error({ err: error, stream: state.id }, 'failed to handle a discovery request');
        call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error handling the request' });
        this.forget(stream, 'internal error');
      }
    });
    call.on('end', () =>
      this.close(stream, 'the stream ended (closed by the client, or its connection was)'),
    );
    call.on('error', (error) => {
      logger.debug({ stream: state.id, err: error }, 'stream error');
      this.forget(stream, `stream error: ${error.message}`);
    });
    call.on('cancelled', () => this.forget(stream, 'cancelled by the client'));
    call.on('close', () => this.forget(stream, 'closed'));
  }

  private onRequest(stream: ActiveStream, request: AnyRequest): void {
    if (stream.closed) return;
    const nonce = request.response_nonce;
    if (pendingWrites(stream) > 0 && nonce !== '' && nonce === stream.writeCounts.lastNonce) {
      // The client answers the latest response: it has read everything written to it, even if the
      // connection has not reported the bytes taken yet (its callbacks can come after this request).
      stream.writeCounts.read = stream.writeCounts.written;
      this.drained(stream);
      if (stream.closed) return;
    }
    if (stream.profile === undefined) {
      stream.profile = clientProfile(request.node);
      stream.clientKey = this.options.cache.acquire(stream.profile);
      this.observer.clientIdentified(stream, request.node);
    }
    if (
      this.options.cache.current() === undefined ||
      stream.waiting !== undefined ||
      pendingWrites(stream) > 0 ||
      (this.pushes.busy && this.isPlainAck(stream, request))
    ) {
      // Answering before the first catalog is translated would tell clients their service does
      // not exist. An ACK changes nothing the push needs: the cores go to the push first. A
      // client that has not read what it was sent is written nothing more until it has.
      stream.waiting ??= [];
      if (stream.waiting.length >= MAX_HELD_REQUESTS) {
        this.refuse(stream, {
          code: grpc.status.RESOURCE_EXHAUSTED,
          reason: 'too-many-held',
          details: `more than ${MAX_HELD_REQUESTS} requests sent while the server was starting or busy pushing`,
        });
        return;
      }
      stream.waiting.push(request);
      // A stream with unread responses is answered when they are read (see onFlushed).
      if (pendingWrites(stream) === 0) this.waiting.add(stream);
      return;
    }
    this.handle(stream, request);
  }

  private isPlainAck(stream: ActiveStream, request: AnyRequest): boolean {
    return stream.protocol === 'sotw'
      ? stream.state.isPlainAck(request as DiscoveryRequest__Output)
      : stream.state.isPlainAck(request as DeltaDiscoveryRequest__Output);
  }

  private handle(stream: ActiveStream, request: AnyRequest): void {
    this.generation++;
    const violation = this.observer.requestReceived(stream, request);
    if (violation !== undefined) {
      this.refuse(stream, violation);
      return;
    }
    const snapshot = this.options.cache.served(stream.clientKey!)!;
    if (stream.onlyType !== undefined) {
      // A per-type service implies the type; a request for another one is not served there.
      if (request.type_url === '') request = { ...request, type_url: stream.onlyType.typeUrl };
      else if (request.type_url !== stream.onlyType.typeUrl) {
        this.report(stream, { outcome: 'unknown-type', type: undefined, delta: undefined }, request);
        return;
      }
    }
    if (stream.protocol === 'sotw') {
      const result = stream.state.handleRequest(request as DiscoveryRequest__Output, snapshot);
      this.report(stream, result, request);
      if (result.response !== undefined) this.send(stream, stream.call, [result.response]);
    } else {
      const result = stream.state.handleRequest(request as DeltaDiscoveryRequest__Output, snapshot);
      this.report(stream, result, request);
      if (result.response !== undefined) this.send(stream, stream.call, [result.response]);
    }
    // An ACK may end a NACK backoff: what was held back goes out (after the response, if any).
    if (stream.held !== undefined) this.release(stream);
  }

  /** Ends a stream that broke a limit; other streams are not affected. */
  private refuse(stream: ActiveStream, violation: LimitViolation): void {
    this.observer.streamRefused(stream, stream.state.peer, violation);
    stream.call.emit('error', { code: violation.code, details: violation.details });
    this.forget(stream, `refused: ${violation.reason}`);
  }

  /** Ends the streams whose client has read none of their responses for --stall-timeout. */
  private endStalled(): void {
    const now = performance.now();
    const { stallTimeoutMs } = this.limits;
    for (const stream of this.streams) {
      if (pendingWrites(stream) === 0 || now - stream.unflushedSince < stallTimeoutMs) continue;
      this.refuse(stream, {
        code: grpc.status.RESOURCE_EXHAUSTED,
        reason: 'stalled',
        details: `the client read none of its responses for ${formatDuration(stallTimeoutMs)}`,
      });
    }
  }

  /** Tells the observers how a request was handled, and keeps the subscription index up to date. */
  private report(stream: ActiveStream, result: RequestOutcome, request: AnyRequest): void {
    const violation = this.observer.requestHandled(stream, result, request);
    if (violation !== undefined) {
      this.refuse(stream, violation);
      return;
    }
    if (result.delta !== undefined) {
      const index = this.index(stream.clientKey!);
      const { type, added, removed, wildcard } = result.delta;
      for (const name of added) index.add(type, name, stream);
      for (const name of removed) index.remove(type, name, stream);
      index.setWildcard(type, stream, wildcard);
    }
  }

  private index(clientKey: string): SubscriptionIndex<ActiveStream> {
    let index = this.indexes.get(clientKey);
    if (index === undefined) {
      index = new SubscriptionIndex();
      this.indexes.set(clientKey, index);
    }
    return index;
  }

  private onSnapshot(
    clientKey: string,
    snapshot: Snapshot,
    changes: ChangeSet,
    previous: Snapshot | undefined,
  ): void {
    this.answerHeld();
    const index = this.indexes.get(clientKey);
    if (index === undefined) return;
    this.pushes.enqueue(clientKey, snapshot, changes, previous, index.affected(changes));
  }

  /** Answers the held requests (see ActiveStream.waiting). */
  private answerHeld(): void {
    if (this.waiting.size === 0) return;
    this.answerWaiting([...this.waiting]);
    this.waiting.clear();
  }

  /**
   * Answers held requests, a slice of streams per event-loop turn (at start-up, or after a push to
   * every stream, thousands of clients may be waiting). A stream keeps holding new requests behind
   * the held ones until its turn, so its requests are answered in order.
   */
  private answerWaiting(streams: ActiveStream[], from = 0): void {
    const end = Math.min(streams.length, from + ANSWER_SLICE);
    for (let i = from; i < end && !this.closing; i++) {
      // A stream whose client has not read what it was sent is answered once it has (onFlushed).
      if (pendingWrites(streams[i]) === 0) this.answer(streams[i]);
    }
    if (end < streams.length && !this.closing) setImmediate(() => this.answerWaiting(streams, end));
  }

  /** Handles a stream's held requests, in order. */
  private answer(stream: ActiveStream): void {
    const requests = stream.waiting ?? [];
    stream.waiting = undefined;
    for (const request of requests) {
      if (stream.closed) return;
      this.handle(stream, request);
    }
  }

  /**
   * Sends a stream what a change means for it, unless its client has not read what it was sent
   * yet or is backing off after NACKs: then the change is held, merged with any others, and the
   * stream is later sent only the latest state (see release).
   */
  private push(
    stream: ActiveStream,
    snapshot: Snapshot,
    changes: ChangeSet,
    previous: Snapshot | undefined,
  ): void {
    if (stream.closed) return;
    if (
      stream.held !== undefined ||
      pendingWrites(stream) > 0 ||
      this.backoffs.of(stream).delay(performance.now()) > 0
    ) {
      stream.held ??= new HeldChanges();
      stream.held.merge(changes, snapshot.observedAt);
      this.observer.pushHeld(stream, pendingWrites(stream) > 0 ? 'not-reading' : 'nack-backoff');
      this.release(stream);
      return;
    }
    if (stream.protocol === 'sotw') {
      const responses = stream.state.handleSnapshot(snapshot, changes, previous);
      this.send(stream, stream.call, responses, snapshot.observedAt);
    } else {
      const responses = stream.state.handleSnapshot(snapshot, changes);
      this.send(stream, stream.call, responses, snapshot.observedAt);
    }
  }

  /**
   * Sends a stream the latest state of what its held pushes changed (one response per type at
   * most), once its client has read what it was sent and is not backing off; until then, waits.
   */
  private release(stream: ActiveStream): void {
    const held = stream.held;
    if (stream.closed || held === undefined || pendingWrites(stream) > 0) return;
    const backoff = this.backoffs.of(stream);
    const delay = backoff.delay(performance.now());
    if (delay > 0) {
      backoff.wait(delay, () => this.release(stream));
      return;
    }
    const snapshot = this.options.cache.served(stream.clientKey!);
    if (snapshot === undefined) return;
    stream.held = undefined;
    if (stream.protocol === 'sotw') {
      const responses = stream.state.handleHeld(snapshot, held.changes());
      this.send(stream, stream.call, responses, held.observedAt);
    } else {
      const responses = stream.state.handleHeld(snapshot, held.changes());
      this.send(stream, stream.call, responses, held.observedAt);
    }
  }

  /** A response's bytes were taken by the connection; once all are, what waited goes out. */
  private onFlushed(stream: ActiveStream): void {
    const before = pendingWrites(stream);
    stream.writeCounts.flushed++;
    // Already drained when the client showed it had read everything (see onRequest).
    if (before === 0 || pendingWrites(stream) > 0 || stream.closed) return;
    this.drained(stream);
  }

  /** Everything written to the stream was taken: what waited goes out. */
  private drained(stream: ActiveStream): void {
    if (stream.waiting !== undefined) {
      if (this.pushes.busy || this.options.cache.current() === undefined) this.waiting.add(stream);
      else this.answer(stream);
    }
    this.release(stream);
  }

  /**
   * Writes responses in order (none once the stream is closed) and tells the observers; a push
   * passes when its oldest etcd change was seen.
   */
  private send<R extends OutgoingResponse | OutgoingDeltaResponse>(
    stream: ActiveStream,
    call: { write(response: R, flushed: () => void): unknown },
    responses: readonly R[],
    observedAt?: number,
  ): void {
    if (responses.length === 0) return;
    this.generation++;
    let written = 0;
    for (const response of responses) {
      if (stream.closed) break;
      if (pendingWrites(stream) === 0) stream.unflushedSince = performance.now();
      stream.writeCounts.written++;
      stream.writeCounts.lastNonce = response.nonce;
      call.write(response, stream.flushed);
      written++;
    }
    this.observer.responsesSent(
      stream,
      written === responses.length ? responses : responses.slice(0, written),
      observedAt,
    );
  }

  private close(stream: ActiveStream, how: string): void {
    if (!stream.closed) stream.call.end();
    this.forget(stream, how);
  }

  private forget(stream: ActiveStream, how: string): void {
    if (!this.streams.delete(stream)) return;
    this.generation++;
    stream.closed = true;
    stream.held = undefined;
    this.waiting.delete(stream);
    if (stream.profile !== undefined) {
      const index = this.index(stream.clientKey!);
      for (const [type, name] of stream.state.subscribedNames()) index.remove(type, name, stream);
      for (const type of stream.state.subscriptions.keys()) index.setWildcard(type, stream, false);
      if (index.isEmpty()) this.indexes.delete(stream.clientKey!);
      this.options.cache.release(stream.clientKey!);
    }
    this.observer.streamClosed(stream, how);
  }
}
