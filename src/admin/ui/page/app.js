// @ts-check
// The etcd-xds dashboard (GET /ui). Preact renders it from state; htm writes the markup as tagged
// templates, so the page is served as written (no compile step). The server sends a small
// `state` event (/ui/events) whenever something changed; the page then fetches again only the
// page of rows it shows (/ui/api/*), so it stays light with 100,000 services or 10,000 clients.
import { h, render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);

/** Rows per page of each list. */
const PAGE_SIZE = 50;

/** A failed page fetch is tried again after this long (no change may come to prompt it). */
const RETRY_MS = 2_000;

/** Typing in a filter asks the server once the typing pauses this long. */
const FILTER_PAUSE_MS = 200;

/**
 * GETs JSON; an error names the server's `error`, or the status when the answer is not JSON (a
 * proxy's error page).
 * @param {string} path
 * @returns {Promise<any>}
 */
async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const json = (response.headers.get('content-type') ?? '').includes('application/json');
  const body = json ? await response.json() : undefined;
  if (!response.ok) throw new Error(body?.error ?? `${response.status} ${response.statusText}`);
  if (!json) throw new Error(`unexpected answer (${response.headers.get('content-type')})`);
  return body;
}

/**
 * A page of `path`, fetched again whenever `tick` (or the query) changes: one request at a time —
 * changes while one is out are folded into one more when it ends, so a slow server is asked at
 * its own pace — and retried after RETRY_MS when it fails.
 * @param {string} path
 * @param {number} tick
 * @param {Record<string, string>} params
 */
function usePage(path, tick, params) {
  const [state, setState] = useState(
    /** @type {{ page: any, error: string | null }} */ ({ page: null, error: null }),
  );
  const query = new URLSearchParams({ ...params, limit: String(PAGE_SIZE) }).toString();
  const flight = useRef({ busy: false, again: false, query });
  flight.current.query = query;
  const [retry, setRetry] = useState(0);
  useEffect(() => {
    const current = flight.current;
    if (current.busy) {
      current.again = true;
      return;
    }
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const run = () => {
      current.busy = true;
      current.again = false;
      const asked = current.query;
      getJson(`${path}?${asked}`)
        .then(
          (page) => {
            if (asked === current.query) setState({ page, error: null });
            else current.again = true;
          },
          (error) => {
            setState((s) => ({ page: s.page, error: String(error.message) }));
            timer = setTimeout(() => setRetry((n) => n + 1), RETRY_MS);
          },
        )
        .finally(() => {
          current.busy = false;
          if (current.again) run();
        });
    };
    run();
    return () => clearTimeout(timer);
  }, [path, tick, query, retry]);
  return state;
}

/**
 * A filter's text now (for the input) and once typing pauses (for the query).
 * @returns {[string, string, (value: string) => void]}
 */
function useFilter() {
  const [text, setText] = useState('');
  const [settled, setSettled] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setSettled(text), FILTER_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [text]);
  return [text, settled, setText];
}

/**
 * Keeps the offset on the last page when the list shrinks below it (clients leave).
 * @param {any} page
 * @param {number} offset
 * @param {(offset: number) => void} setOffset
 */
function useClampedOffset(page, offset, setOffset) {
  useEffect(() => {
    if (page !== null && offset > 0 && page.total <= offset)
      setOffset(Math.max(0, Math.ceil(page.total / PAGE_SIZE) - 1) * PAGE_SIZE);
  }, [page, offset]);
}

/** @param {{ total: number, offset: number, onOffset: (offset: number) => void, name: string }} props */
function Pager({ total, offset, onOffset, name }) {
  const last = Math.max(0, Math.ceil(total / PAGE_SIZE) - 1);
  const current = Math.floor(offset / PAGE_SIZE);
  return html`<div class="pager" data-pager=${name}>
    <button disabled=${current === 0} onClick=${() => onOffset((current - 1) * PAGE_SIZE)}>‹ prev</button>
    <span>${total === 0 ? 'none' : `${offset + 1}–${Math.min(total, offset + PAGE_SIZE)} of ${total}`}</span>
    <button disabled=${current >= last} onClick=${() => onOffset((current + 1) * PAGE_SIZE)}>next ›</button>
  </div>`;
}

/** @param {{ value: string, onInput: (value: string) => void, placeholder: string, name: string }} props */
function Filter({ value, onInput, placeholder, name }) {
  return html`<input
    class="filter"
    name=${name}
    type="search"
    aria-label=${placeholder}
    placeholder=${placeholder}
    value=${value}
    onInput=${(/** @type {any} */ e) => onInput(e.currentTarget.value)}
  />`;
}

/** @param {{ summary: any, live: boolean, onNacking: () => void }} props */
function Header({ summary, live, onNacking }) {
  const registry = summary?.registry;
  const health =
    registry === undefined ? 'unknown' : registry.stale ? 'stale' : registry.synced ? 'synced' : 'syncing';
  return html`<header>
    <h1>etcd-xds</h1>
    <span class="badge ${live ? 'ok' : 'bad'}" id="live">${live ? 'live' : 'reconnecting…'}</span>
    <span class="badge ${health === 'synced' ? 'ok' : 'warn'}" title=${registry?.lastError ?? ''}
      >etcd ${health}</span
    >
    ${
      summary &&
      html`<dl class="counts">
        ${[
          ['revision', 'revision', summary.revision ?? '–'],
          ['services', 'count-services', summary.services],
          ['instances', 'count-instances', summary.instances],
          ['policies', 'count-policies', summary.policies],
          ['rejected keys', 'count-rejected', summary.rejected, summary.rejected > 0],
          ['clients', 'count-clients', summary.clients],
          [
            'NACKing',
            'count-nacking',
            summary.nacking > 0
              ? html`<a href="#clients" title="list the clients that NACK" onClick=${onNacking}
                  >${summary.nacking}</a
                >`
              : summary.nacking,
            summary.nacking > 0,
          ],
        ].map(
          ([term, id, value, bad]) =>
            html`<div>
              <dt>${term}</dt>
              <dd id=${id} class=${bad ? 'bad-text' : ''}>${value}</dd>
            </div>`,
        )}
      </dl>`
    }
  </header>`;
}

/**
 * The push and convergence latency chart (uPlot), redrawn from each summary's timeline.
 * @param {{ timeline: any[] | undefined }} props
 */
function LatencyChart({ timeline }) {
  const element = useRef(/** @type {HTMLDivElement | null} */ (null));
  const chart = useRef(/** @type {any} */ (null));
  useEffect(() => {
    if (element.current === null || timeline === undefined) return;
    const pick = (/** @type {string} */ kind, /** @type {'p50' | 'max'} */ figure) =>
      timeline.map((/** @type {any} */ p) => (p[kind] === null ? null : p[kind][figure] * 1000));
    const data = [
      timeline.map((/** @type {any} */ p) => p.at / 1000),
      pick('push', 'p50'),
      pick('push', 'max'),
      pick('convergence', 'p50'),
      pick('convergence', 'max'),
    ];
    if (chart.current === null) {
      // uPlot is loaded as a classic script (index.html): window.uPlot.
      chart.current = new /** @type {any} */ (window).uPlot(
        {
          width: Math.min(900, element.current.clientWidth || 900),
          height: 180,
          scales: {
            y: {
              range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [
                0,
                Math.max(10, max * 1.1),
              ],
            },
          },
          axes: [{}, { label: 'ms', size: 60 }],
          series: [
            {},
            { label: 'push p50', stroke: '#6b8fd6', spanGaps: false },
            { label: 'push max', stroke: '#2a4f9e', dash: [4, 4] },
            { label: 'converged p50', stroke: '#5fb36b' },
            { label: 'converged max', stroke: '#2f7d3a', dash: [4, 4] },
          ],
        },
        data,
        element.current,
      );
    } else chart.current.setData(data);
  }, [timeline]);
  useEffect(() => () => chart.current?.destroy(), []);
  const span =
    timeline !== undefined && timeline.length > 1
      ? ((timeline.length - 1) * (timeline[1].at - timeline[0].at)) / 60_000
      : 5;
  const title = `Latency: etcd change → pushed, and → ACKed by the client (last ${Math.round(span)} min)`;
  return html`<section>
    <h2>${title}</h2>
    <div ref=${element} id="latency-chart"></div>
  </section>`;
}

/** @param {{ split: any }} props */
function Split({ split }) {
  if (!split.routed) return html`<span class="bad-text">${split.reason}</span>`;
  return html`<span class="split">
    ${split.clusters.map(
      (/** @type {any} */ c) =>
        html`<span class="share" title=${c.cluster}
          >${c.versions.map((/** @type {any} */ v) => v ?? '(no version)').join('+')} ${c.percent}%</span
        >`,
    )}
  </span>`;
}

/** @param {{ service: any }} props */
function ServiceRow({ service }) {
  return html`<tr class="service" data-service=${service.name}>
    <td class="name">${service.name}</td>
    <td>
      ${service.versions.map(
        (/** @type {any} */ v) =>
          html`<div class="version" data-version=${v.version ?? ''}>
            <span class="version-name">${v.version ?? '(no version)'}</span>
            <ul class="instances">
              ${v.instances.map(
                (/** @type {any} */ i) =>
                  html`<li data-instance=${i.id} class=${i.status}>
                    <span class="id">${i.id}</span> <span class="addr">${i.address}</span>
                    ${i.zone && html` <span class="zone">${i.zone}</span>`}
                    ${i.weight !== 1 && html` <span class="weight">×${i.weight}</span>`}
                    ${i.status !== 'serving' && html` <span class="status">${i.status}</span>`}
                  </li>`,
              )}
            </ul>
            ${
              v.count > v.instances.length &&
              html`<a
                class="more"
                href=${`../debug/config_dump?service=${encodeURIComponent(service.name)}&type=EDS`}
                >+${v.count - v.instances.length}
                more${v.draining > 0 ? ` (${v.draining} draining in all)` : ''}</a
              >`
            }
          </div>`,
      )}
      ${service.shadowed > 0 && html`<div class="bad-text">${service.shadowed} registration(s) shadowed (same address)</div>`}
    </td>
    <td><${Split} split=${service.split} /></td>
    <td>
      ${
        service.policy === null
          ? html`<span class="muted">default</span>`
          : html`<details>
              <summary>${service.policy.key}</summary>
              <pre>${JSON.stringify(service.policy.settings, null, 2)}</pre>
            </details>`
      }
    </td>
  </tr>`;
}

/** @param {{ tick: number }} props */
function Services({ tick }) {
  const [offset, setOffset] = useState(0);
  const [filter, settledFilter, setFilter] = useFilter();
  const params = { offset: String(offset), ...(settledFilter === '' ? {} : { filter: settledFilter }) };
  const { page, error } = usePage('api/services', tick, params);
  useClampedOffset(page, offset, setOffset);
  return html`<section id="services">
    <h2>Services</h2>
    <div class="toolbar">
      <${Filter}
        name="service-filter"
        value=${filter}
        placeholder="filter services"
        onInput=${(/** @type {string} */ v) => (setFilter(v), setOffset(0))}
      />
      ${page && html`<${Pager} name="services" total=${page.total} offset=${offset} onOffset=${setOffset} />`}
    </div>
    ${error && html`<p class="bad-text">${error}</p>`}
    <table>
      <thead>
        <tr>
          <th>service</th>
          <th>versions → instances</th>
          <th>traffic without a version header</th>
          <th>policy</th>
        </tr>
      </thead>
      <tbody>
        ${page?.items.map((/** @type {any} */ s) => html`<${ServiceRow} key=${s.name} service=${s} />`)}
      </tbody>
    </table>
  </section>`;
}

/** @param {{ tick: number }} props */
function Rejected({ tick }) {
  const [offset, setOffset] = useState(0);
  const { page, error } = usePage('api/rejected', tick, { offset: String(offset) });
  useClampedOffset(page, offset, setOffset);
  if (page !== null && page.total === 0)
    return html`<section id="rejected">
      <h2>Rejected keys</h2>
      <p class="muted">none</p>
    </section>`;
  return html`<section id="rejected">
    <h2>Rejected keys</h2>
    ${page && html`<${Pager} name="rejected" total=${page.total} offset=${offset} onOffset=${setOffset} />`}
    ${error && html`<p class="bad-text">${error}</p>`}
    <table>
      <thead>
        <tr>
          <th>key</th>
          <th>kind</th>
          <th>error</th>
        </tr>
      </thead>
      <tbody>
        ${page?.items.map(
          (/** @type {any} */ r) =>
            html`<tr data-rejected=${r.key}>
              <td class="name">${r.key}</td>
              <td>${r.kind}</td>
              <td class="bad-text">${r.code}: ${r.error}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/** @param {{ type: any }} props */
function TypeChip({ type }) {
  const text = type.status === 'acked' ? '✓ ACK' : type.status === 'nacked' ? '✗ NACK' : type.status;
  return html`<span
    class="chip ${type.status}"
    data-type=${type.type}
    data-status=${type.status}
    title=${type.error ?? type.acked ?? ''}
  >
    ${type.type} ${text}${type.status === 'nacked' && html`<span class="nack-error">: ${type.error}</span>`}
  </span>`;
}

/** The states the clients list can be narrowed to (a client is in one if any of its types is). */
const CLIENT_STATES = /** @type {const} */ (['nacked', 'pending', 'waiting']);

/** @param {{ tick: number, state: string, onState: (state: string) => void }} props */
function Clients({ tick, state, onState }) {
  const [offset, setOffset] = useState(0);
  const [filter, settledFilter, setFilter] = useFilter();
  const params = {
    offset: String(offset),
    ...(settledFilter === '' ? {} : { filter: settledFilter }),
    ...(state === '' ? {} : { state }),
  };
  const { page, error } = usePage('api/clients', tick, params);
  useClampedOffset(page, offset, setOffset);
  return html`<section id="clients">
    <h2>Connected clients</h2>
    <div class="toolbar">
      <${Filter}
        name="client-filter"
        value=${filter}
        placeholder="filter node ids"
        onInput=${(/** @type {string} */ v) => (setFilter(v), setOffset(0))}
      />
      <select
        name="client-state"
        aria-label="clients in state"
        value=${state}
        onChange=${(/** @type {any} */ e) => (onState(e.currentTarget.value), setOffset(0))}
      >
        <option value="">every client</option>
        ${CLIENT_STATES.map((s) => html`<option value=${s}>${s === 'nacked' ? 'NACKing' : s}</option>`)}
      </select>
      ${page && html`<${Pager} name="clients" total=${page.total} offset=${offset} onOffset=${setOffset} />`}
    </div>
    ${error && html`<p class="bad-text">${error}</p>`}
    <table>
      <thead>
        <tr>
          <th>node</th>
          <th>kind</th>
          <th>caller labels</th>
          <th>per type</th>
          <th>last converged</th>
          <th>connected</th>
        </tr>
      </thead>
      <tbody>
        ${page?.items.map(
          (/** @type {any} */ c) =>
            html`<tr key=${c.stream} data-client=${c.node ?? ''} data-stream=${c.stream}>
              <td class="name">${c.node ?? html`<span class="muted">(no node)</span>`}</td>
              <td>
                ${c.kind ?? '–'}
                <div class="muted">${c.protocol} ${c.service}${c.flavour ? ` · ${c.flavour}` : ''}</div>
              </td>
              <td>${Object.entries(c.labels).map(([k, v]) => html`<span class="label">${k}=${v}</span>`)}</td>
              <td>${c.types.map((/** @type {any} */ t) => html`<${TypeChip} type=${t} />`)}</td>
              <td
                class="converged"
                title=${c.converged === null ? '' : `at ${new Date(c.converged.at).toLocaleString()}`}
              >
                ${c.converged === null ? '–' : `${c.converged.ms} ms`}
              </td>
              <td class="muted">${new Date(c.connectedAt).toLocaleString()}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/**
 * Lines of `NAME<sep>VALUE` into query parameters `NAME:VALUE` (what /debug/explain reads).
 * @param {string} text
 * @param {string} separator
 */
function pairs(text, separator) {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const at = line.indexOf(separator);
      return at < 0 ? line : `${line.slice(0, at).trim()}:${line.slice(at + 1).trim()}`;
    });
}

function Explain() {
  const [form, setForm] = useState({ service: '', headers: '', caller: '', method: '' });
  const [answer, setAnswer] = useState(/** @type {any} */ (null));
  /** Answers so far (data-answers: a test or a script can wait for the next one). */
  const [answers, setAnswers] = useState(0);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const latest = useRef(0);
  // From the event and the latest state: keystrokes may come faster than renders.
  const field = (/** @type {keyof typeof form} */ name) => (/** @type {any} */ e) => {
    const value = e.currentTarget.value;
    setForm((current) => ({ ...current, [name]: value }));
  };
  const submit = useCallback(
    (/** @type {Event} */ e) => {
      e.preventDefault();
      const query = new URLSearchParams({ service: form.service.trim() });
      for (const header of pairs(form.headers, ':')) query.append('header', header);
      for (const label of pairs(form.caller, '=')) query.append('caller', label);
      if (form.method.trim() !== '') query.set('method', form.method.trim());
      // Only the latest question's answer is shown (an earlier one may come back later).
      const asked = ++latest.current;
      getJson(`../debug/explain?${query}`).then(
        (body) => asked === latest.current && (setAnswer(body), setError(null), setAnswers((n) => n + 1)),
        (failure) =>
          asked === latest.current &&
          (setAnswer(null), setError(String(failure.message)), setAnswers((n) => n + 1)),
      );
    },
    [form],
  );
  return html`<section id="explain" data-answers=${answers}>
    <h2>Explain: where would a call go?</h2>
    <form onSubmit=${submit}>
      <label
        >service
        <input name="service" required value=${form.service} onInput=${field('service')} placeholder="user"
      /></label>
      <label
        >method
        <input
          name="method"
          value=${form.method}
          onInput=${field('method')}
          placeholder="/pkg.Service/Method (optional)"
      /></label>
      <label
        >headers
        <textarea
          name="headers"
          rows="2"
          value=${form.headers}
          onInput=${field('headers')}
          placeholder="version: v1"
        ></textarea>
      </label>
      <label
        >caller labels
        <textarea
          name="caller"
          rows="2"
          value=${form.caller}
          onInput=${field('caller')}
          placeholder="service=app
version=v2"
        ></textarea>
      </label>
      <button type="submit">explain</button>
    </form>
    ${error && html`<p class="bad-text" id="explain-error">${error}</p>`}
    ${
      answer &&
      html`<div id="explain-answer">
        <p>
          <strong>${answer.outcome}</strong
          >${answer.route && html` by route <code>${answer.route.name}</code>`}${answer.reason && html` — ${answer.reason}`}
          ${answer.timeout && html` · timeout ${answer.timeout}`}${answer.retry && html` · retry on ${answer.retry.on.join(', ')}, ${answer.retry.attempts} attempts`}
        </p>
        <ul>
          ${answer.clusters.map(
            (/** @type {any} */ c) =>
              html`<li>
                <code>${c.name}</code> weight ${c.weight}:
                ${c.endpoints.map((/** @type {any} */ e) => html` <span class="endpoint">${e.id ?? e.address} (${e.version ?? 'no version'}${e.zone ? `, ${e.zone}` : ''})</span>`)}
              </li>`,
          )}
        </ul>
        <details>
          <summary>JSON</summary>
          <pre id="explain-json">${JSON.stringify(answer, null, 2)}</pre>
        </details>
      </div>`
    }
  </section>`;
}

/** Reconnecting to a server that refused the event stream: first after this long, doubling up to MAX. */
const RECONNECT_MS = 1_000;
const MAX_RECONNECT_MS = 15_000;

function App() {
  const [summary, setSummary] = useState(/** @type {any} */ (null));
  const [live, setLive] = useState(false);
  const [ticks, setTicks] = useState({ services: 0, clients: 0 });
  const [clientState, setClientState] = useState('');
  const seen = useRef({ revision: /** @type {any} */ (undefined), rejected: -1, clientsVersion: -1 });
  useEffect(() => {
    /** @type {EventSource | undefined} */
    let events;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    let delay = RECONNECT_MS;
    const connect = () => {
      events = new EventSource('events');
      events.addEventListener('open', () => {
        setLive(true);
        delay = RECONNECT_MS;
        // Whatever happened while disconnected (a restart, even to the same counters): fetch again.
        seen.current = { revision: undefined, rejected: -1, clientsVersion: -1 };
        setTicks((t) => ({ services: t.services + 1, clients: t.clients + 1 }));
      });
      events.addEventListener('error', () => {
        setLive(false);
        // The browser retries a dropped stream itself, but gives up on one refused (a 503 while the
        // server stops, a proxy's 502): then we start over, with backoff.
        if (events?.readyState !== EventSource.CLOSED) return;
        timer = setTimeout(connect, delay);
        delay = Math.min(MAX_RECONNECT_MS, delay * 2);
      });
      events.addEventListener('state', (/** @type {MessageEvent} */ message) => {
        const state = JSON.parse(message.data);
        setLive(true);
        setSummary(state);
        const last = seen.current;
        const services = state.revision !== last.revision || state.rejected !== last.rejected;
        const clients = state.clientsVersion !== last.clientsVersion;
        seen.current = {
          revision: state.revision,
          rejected: state.rejected,
          clientsVersion: state.clientsVersion,
        };
        if (services || clients)
          setTicks((t) => ({
            services: t.services + (services ? 1 : 0),
            clients: t.clients + (clients ? 1 : 0),
          }));
      });
    };
    connect();
    return () => (clearTimeout(timer), events?.close());
  }, []);
  return html`
    <${Header} summary=${summary} live=${live} onNacking=${() => setClientState('nacked')} />
    <main>
      <${LatencyChart} timeline=${summary?.timeline} />
      <${Services} tick=${ticks.services} />
      <${Rejected} tick=${ticks.services} />
      <${Clients} tick=${ticks.clients} state=${clientState} onState=${setClientState} />
      <${Explain} />
    </main>
  `;
}

const root = /** @type {HTMLElement} */ (document.getElementById('app'));
root.textContent = '';
render(html`<${App} />`, root);
