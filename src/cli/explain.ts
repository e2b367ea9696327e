// `etcd-xds explain`: asks a running server's /debug/explain (contract §11) where a call would go,
// and prints the answer in a few lines (or the JSON). Exit 0 when routed, 3 when the call would
// fail, 2 on bad input or when the server cannot be asked.
import type { Explanation } from '../admin/explain';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:18001';

export interface ExplainOptions {
  readonly service: string;
  /** `NAME:VALUE` each. */
  readonly headers: readonly string[];
  /** `LABEL=VALUE` each. */
  readonly callers: readonly string[];
  readonly method: string | undefined;
  readonly admin: string;
}

/** The /debug/explain URL for these options, or an error naming the bad one. */
export function explainUrl(options: ExplainOptions): URL | { error: string } {
  let url: URL;
  // host:port alone means plain HTTP, as the admin port serves.
  const admin = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.admin) ? options.admin : `http://${options.admin}`;
  try {
    url = new URL('/debug/explain', admin);
  } catch {
    return { error: `--admin: ${JSON.stringify(options.admin)} is not a URL` };
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '')
    return { error: `--admin: ${JSON.stringify(options.admin)} must be an http(s) URL` };
  url.searchParams.append('service', options.service);
  for (const header of options.headers) {
    if (header.indexOf(':') <= 0) return { error: `-H: ${JSON.stringify(header)} must be NAME:VALUE` };
    url.searchParams.append('header', header);
  }
  for (const caller of options.callers) {
    const equals = caller.indexOf('=');
    if (equals <= 0) return { error: `--caller: ${JSON.stringify(caller)} must be LABEL=VALUE` };
    url.searchParams.append('caller', `${caller.slice(0, equals)}:${caller.slice(equals + 1)}`);
  }
  if (options.method !== undefined) url.searchParams.append('method', options.method);
  return url;
}

/** The answer in a few lines for a person. */
export function formatExplanation(answer: Explanation): string {
  const who = Object.entries(answer.caller)
    .map(([label, value]) => `${label}=${value}`)
    .join(',');
  const headers = Object.entries(answer.headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join(', ');
  const lines = [
    `call to ${answer.service}${answer.method === null ? '' : ` ${answer.method}`} from ${
      who === '' ? 'a client without caller labels' : who
    }${headers === '' ? ', no headers' : `, headers ${headers}`}`,
    answer.route === null
      ? 'route: none matches'
      : `route: ${answer.route.name} (#${answer.route.index} of the routes this client gets)`,
  ];
  if (answer.outcome === 'unavailable') {
    lines.push(`outcome: UNAVAILABLE — ${answer.reason ?? 'the call would fail'}`);
  } else {
    lines.push('outcome: routed');
    for (const cluster of answer.clusters) {
      lines.push(`  ${cluster.weight}% → cluster ${cluster.name}`);
      for (const e of cluster.endpoints) {
        const detail = [
          `version ${e.version ?? '-'}`,
          `zone ${e.zone === '' ? '-' : e.zone}`,
          `weight ${e.weight}`,
          e.status,
          ...(e.priority === 0 ? [] : [`priority ${e.priority}`]),
        ].join(', ');
        lines.push(`      ${e.id ?? '?'} ${e.address} (${detail})`);
      }
    }
  }
  if (answer.timeout !== null) lines.push(`timeout: ${answer.timeout}`);
  if (answer.retry !== null) {
    const { on, attempts, backoff } = answer.retry;
    lines.push(
      `retry: on ${on.join(', ')}, ${attempts} attempts in all, backoff ${backoff.base} to ${backoff.max}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the command: what to print, where, and the exit code. */
export async function runExplain(
  options: ExplainOptions & { readonly json: boolean },
): Promise<{ code: 0 | 2 | 3; stdout: string; stderr: string }> {
  const url = explainUrl(options);
  if ('error' in url) return { code: 2, stdout: '', stderr: `etcd-xds explain: ${url.error}\n` };
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    return { code: 2, stdout: '', stderr: `etcd-xds explain: cannot reach ${url.origin}: ${cause}\n` };
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: print it as it is
    }
    return { code: 2, stdout: '', stderr: `etcd-xds explain: ${response.status}: ${message}\n` };
  }
  const answer = JSON.parse(text) as Explanation;
  return {
    code: answer.outcome === 'routed' ? 0 : 3,
    stdout: options.json ? `${JSON.stringify(answer, null, 2)}\n` : formatExplanation(answer),
    stderr: '',
  };
}
