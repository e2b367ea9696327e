// The etcd client etcd-xds runs with: TLS and auth as configured, keepalive so a dead
// connection errors instead of hanging, and fault handling tuned so that etcd coming back is
// noticed within a second.
import { circuitBreaker, ConsecutiveBreaker, handleWhen, retry } from 'cockatiel';
import { Etcd3, GRPCResourceExhastedError, isRecoverableError } from 'etcd3';
import { rootCertificates } from 'node:tls';
import { readConfigFile, type EtcdConnection } from './config';

/**
 * Errors worth retrying or holding against a host. A list page over the message limit
 * (RESOURCE_EXHAUSTED) is neither: it says nothing about the host, and sent again it fails again;
 * the registry reads smaller pages instead.
 */
const transient = (error: Error): boolean =>
  isRecoverableError(error) && !(error instanceof GRPCResourceExhastedError);

export function createEtcdClient(
  connection: Pick<EtcdConnection, 'endpoints'> & Partial<EtcdConnection>,
): Etcd3 {
  const tls = connection.tls;
  return new Etcd3({
    hosts: [...connection.endpoints],
    ...(tls === undefined
      ? {}
      : {
          credentials: {
            // Without --etcd-ca, the CAs Node.js trusts (the same default as for https:// alone).
            rootCertificate: Buffer.from(
              tls.ca === undefined ? rootCertificates.join('\n') : readConfigFile(tls.ca),
            ),
            ...(tls.cert !== undefined && tls.key !== undefined
              ? {
                  certChain: Buffer.from(readConfigFile(tls.cert)),
                  privateKey: Buffer.from(readConfigFile(tls.key)),
                }
              : {}),
          },
        }),
    ...(connection.auth === undefined ? {} : { auth: { ...connection.auth } }),
    grpcOptions: {
      // A half-open connection (a partition, a dead host) errors within ~15 s instead of never.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      // List pages of 10,000 registrations with large metadata outgrow gRPC's 4 MiB default (the
      // registry halves its pages when one still does not fit).
      'grpc.max_receive_message_length': 64 * 2 ** 20,
    },
    faultHandling: {
      // Skip a failing host for 250 ms (other endpoints take over), not etcd3's default 5 s, so a
      // restarted etcd is used again at once.
      host: () =>
        circuitBreaker(handleWhen(transient), {
          halfOpenAfter: 250,
          breaker: new ConsecutiveBreaker(3),
        }),
      global: retry(handleWhen(transient), { maxAttempts: 2 }),
    },
  });
}
