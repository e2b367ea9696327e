// The protocol's metrics, logs and convergence timing, as an observer of the xDS server.
import type { Logger } from 'pino';
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import { clientText, LogBurstLimit } from '../logger';
import type { Metrics } from '../metrics';
import type {
  AnyRequest,
  HeldReason,
  ObservedStream,
  RequestOutcome,
  SentResponse,
  XdsObserver,
} from './observer';
import type { LimitViolation } from './request-limits';
import type { TypeSubscription } from './type-subscription';

/** A client's warnings of one kind (NACKs, unknown types): the first, then a count per window. */
const CLIENT_WARNING_WINDOW_MS = 10_000;

/** Told each push and convergence latency the metrics record (the dashboard's timeline). */
export interface LatencySink {
  /** A response carrying an etcd change was written, `seconds` after the change was seen. */
  pushed(seconds: number): void;
  /** A client (its stream's state) answered the latest push of a change, `seconds` after it was seen. */
  converged(client: object, seconds: number): void;
}

export class Telemetry implements XdsObserver {
  private readonly connectLog = this.clientLines('connected');
  private readonly disconnectLog = this.clientLines('disconnected');
  /** Streams ended for breaking a limit: one by one up to 100 per 10 s, then a count. */
  private readonly refusedLog = new LogBurstLimit(100, 10_000, (suppressed, windowMs) =>
    this.logger.warn(
      { streams: suppressed, windowSeconds: windowMs / 1_000 },
      'more streams ended for breaking a limit than are logged one by one; see etcd_xds_refused_requests_total',
    ),
  );
  /** Warnings a stream's client causes (NACKs, unknown types), each kind limited per stream. */
  private readonly warnings = new WeakMap<ObservedStream, Map<string, LogBurstLimit>>();
  /** When the oldest etcd change pushed to a subscription and not yet answered was seen. */
  private readonly changeSeenAt = new WeakMap<TypeSubscription, number>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly latency?: LatencySink,
  ) {}

  streamOpened(stream: ObservedStream): void {
    this.logger.debug(
      { stream: stream.state.id, peer: stream.state.peer, protocol: stream.protocol },
      'stream opened',
    );
  }

  clientIdentified(stream: ObservedStream, node: Node__Output | null | undefined): void {
    const profile = stream.profile!;
    this.metrics.connectedStreams.inc({ client: profile.kind });
    this.connectLog.log(
      this.logger,
      {
        stream: stream.state.id,
        node: clientText(node?.id),
        client: profile.kind,
        flavour: profile.flavour,
        protocol: stream.protocol,
        service: stream.onlyType?.short ?? 'ADS',
        peer: stream.state.peer,
      },
      'xDS client connected',
    );
  }

  requestHandled(stream: ObservedStream, result: RequestOutcome, request: AnyRequest): undefined {
    const { metrics } = this;
    const typeLabel = result.type?.short ?? 'unknown';
    metrics.requestCounts.add(`${typeLabel} ${result.outcome}`, { type: typeLabel, outcome: result.outcome });
    const subscription = result.type === undefined ? undefined : stream.state.subscriptions.get(result.type);
    const seenAt = subscription === undefined ? undefined : this.changeSeenAt.get(subscription);
    if (seenAt !== undefined && request.response_nonce === subscription!.lastNonce) {
      // The client answered the latest push, so it now has every change pushed so far (or refused them).
      if (result.outcome === 'ack' || result.outcome === 'resubscribe') {
        const seconds = (performance.now() - seenAt) / 1000;
        metrics.convergenceSeconds.observe(typeLabel, seconds);
        this.latency?.converged(stream.state, seconds);
      }
      this.changeSeenAt.delete(subscription!);
    }
    if (result.outcome === 'nack') {
      metrics.nacks.inc({ type: typeLabel });
      this.clientWarning(
        stream,
        'nack',
        {
          stream: stream.state.id,
          node: clientText(stream.state.node?.id),
          type: typeLabel,
          error: clientText(request.error_detail?.message),
        },
        'client rejected a response (NACK); it keeps its last accepted version',
      );
    } else if (result.outcome === 'unknown-type') {
      this.clientWarning(
        stream,
        'unknown-type',
        {
          stream: stream.state.id,
          typeUrl: clientText(request.type_url),
          service: stream.onlyType?.short ?? 'ADS',
        },
        'request for a resource type not served here',
      );
    }
    return undefined;
  }

  responsesSent(
    stream: ObservedStream,
    responses: readonly SentResponse[],
    observedAt: number | undefined,
  ): void {
    const { logger, metrics } = this;
    const now = performance.now();
    for (const response of responses) {
      const type = response.type.short;
      metrics.pushCounts.add(type, { type });
      metrics.pushedResourceCounts.add(type, { type }, response.resources.length);
      if (observedAt !== undefined) {
        // Push latency now; convergence when the client answers (see requestHandled).
        const seconds = (now - observedAt) / 1000;
        metrics.pushLatencySeconds.observe(type, seconds);
        this.latency?.pushed(seconds);
        const subscription = stream.state.subscriptions.get(response.type)!;
        this.changeSeenAt.set(
          subscription,
          Math.min(this.changeSeenAt.get(subscription) ?? Infinity, observedAt),
        );
      }
      // Listing the names costs an array per stream per push: only when it will be logged.
      if (logger.isLevelEnabled('debug')) {
        logger.debug(
          {
            stream: stream.state.id,
            type,
            nonce: response.nonce,
            resources: response.resources.map((r) => r.name),
            removed: response.removed ?? [],
          },
          'sent',
        );
      }
    }
  }

  pushHeld(_stream: ObservedStream, reason: HeldReason): void {
    this.metrics.heldPushes.inc({ reason });
  }

  streamRefused(stream: ObservedStream | undefined, peer: string, violation: LimitViolation): void {
    this.metrics.refusedRequests.inc({ reason: violation.reason });
    if (!this.refusedLog.allow()) return;
    if (stream === undefined) {
      this.logger.warn(
        { peer, reason: violation.reason, details: violation.details },
        `refusing a stream: ${violation.reason === 'too-many-streams' ? 'too many streams' : violation.reason}`,
      );
    } else {
      this.logger.warn(
        {
          stream: stream.state.id,
          node: clientText(stream.state.node?.id),
          reason: violation.reason,
          details: violation.details,
        },
        'ending a stream that broke a limit',
      );
    }
  }

  streamClosed(stream: ObservedStream, how: string): void {
    for (const limit of this.warnings.get(stream)?.values() ?? []) limit.flush();
    if (stream.profile !== undefined) this.metrics.connectedStreams.dec({ client: stream.profile.kind });
    const fields = {
      stream: stream.state.id,
      node: clientText(stream.state.node?.id),
      client: stream.profile?.kind,
      how,
      connectedSeconds: Math.round((Date.now() - stream.state.connectedAt) / 100) / 10,
    };
    // A stream that never identified itself was never logged as a client connecting either.
    if (stream.profile === undefined) this.logger.debug(fields, 'stream closed');
    else this.disconnectLog.log(this.logger, fields, 'xDS client disconnected');
  }

  close(): void {
    this.connectLog.flush();
    this.disconnectLog.flush();
    this.refusedLog.flush();
  }

  /** Logs a warning a client caused: per stream and kind, the first, then a count per window. */
  private clientWarning(stream: ObservedStream, kind: string, fields: object, message: string): void {
    let limits = this.warnings.get(stream);
    if (limits === undefined) this.warnings.set(stream, (limits = new Map<string, LogBurstLimit>()));
    let limit = limits.get(kind);
    if (limit === undefined) {
      limit = new LogBurstLimit(1, CLIENT_WARNING_WINDOW_MS, (suppressed, windowMs) =>
        this.logger.warn(
          { stream: stream.state.id, node: clientText(stream.state.node?.id), kind, suppressed },
          `${suppressed} more warnings of this kind from this client in ${windowMs / 1_000} s (not logged one by one)`,
        ),
      );
      limits.set(kind, limit);
    }
    if (limit.allow()) this.logger.warn(fields, message);
  }

  /**
   * Client connect or disconnect lines: one by one up to 100 per 10 s, then a count (a fleet
   * reconnecting at once).
   */
  private clientLines(what: 'connected' | 'disconnected'): LogBurstLimit {
    return new LogBurstLimit(100, 10_000, (suppressed, windowMs) =>
      this.logger.info(
        { clients: suppressed, windowSeconds: windowMs / 1_000 },
        `more xDS clients ${what} than are logged one by one; see etcd_xds_connected_streams`,
      ),
    );
  }
}
