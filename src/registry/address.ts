// Parses and checks instance addresses: a literal IP and a real port, nothing a client cannot dial.
import { isIPv4, isIPv6 } from 'node:net';

export interface SocketAddress {
  /** Literal IP, IPv6 without brackets. */
  readonly ip: string;
  readonly port: number;
}

export function parseSocketAddress(text: string): { address: SocketAddress } | { error: string } {
  let host: string;
  let portText: string;
  // Most addresses are IPv4: the regexes below run only where they can match.
  const bracketed = text.startsWith('[') ? /^\[([^\]]+)\]:(\d+)$/.exec(text) : null;
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return { error: `address ${JSON.stringify(text)} must be IP:port` };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      return { error: `address ${JSON.stringify(text)}: an IPv6 address must be written [ip]:port` };
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return { error: `address ${JSON.stringify(text)}: port must be a number` };
  const port = Number(portText);
  if (port < 1 || port > 65535)
    return { error: `address ${JSON.stringify(text)}: port ${port} is out of range 1-65535` };
  if (bracketed ? !isIPv6(host) : !isIPv4(host)) {
    return {
      error: `address ${JSON.stringify(text)}: host must be an IP address (hostnames are not supported)`,
    };
  }
  if (bracketed ? /^(0*:)*:?0*$/.test(host) : host === '0.0.0.0') {
    return { error: `address ${JSON.stringify(text)}: the unspecified address cannot be dialled` };
  }
  return { address: { ip: host, port } };
}

export function formatSocketAddress(address: SocketAddress): string {
  // A parsed IP has a colon only if it is IPv6 (parseSocketAddress checked it); no regex here, as
  // this runs for every instance of every cluster translated.
  return address.ip.includes(':') ? `[${address.ip}]:${address.port}` : `${address.ip}:${address.port}`;
}
