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

/**
 * @param {string} path
 * @returns {Promise<any>}
 */
async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

/**
 * Fetches `path` with paging and filter again whenever `tick` (or the page or filter) changes; one
 * request at a time, the latest wins.
 * @param {string} path
 * @param {number} tick
 * @param {number} offset
 * @param {string} filter
 */
function usePage(path, tick, offset, filter) {
  const [state, setState] = useState(
    /** @type {{ page: any, error: string | null }} */ ({ page: null, error: null }),
  );
  const latest = useRef(0);
  useEffect(() => {
    const request = ++latest.current;
    const query = new URLSearchParams({ offset: String(offset), limit: String(PAGE_SIZE) });
    if (filter !== '') query.set('filter', filter);
    getJson(`${path}?${query}`).then(
      (page) => request === latest.current && setState({ page, error: null }),
      (error) =>
        request === latest.current && setState((s) => ({ page: s.page, error: String(error.message) })),
    );
  }, [path, tick, offset, filter]);
  return state;
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
    placeholder=${placeholder}
    value=${value}
    onInput=${(/** @type {any} */ e) => onInput(e.currentTarget.value)}
  />`;
}

/** @param {{ summary: any, live: boolean }} props */
function Header({ summary, live }) {
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
        <div>
          <dt>revision</dt>
          <dd id="revision">${summary.revision ?? '–'}</dd>
        </div>
        <div>
          <dt>services</dt>
          <dd id="count-services">${summary.services}</dd>
        </div>
        <div>
          <dt>instances</dt>
          <dd id="count-instances">${summary.instances}</dd>
        </div>
        <div>
          <dt>policies</dt>
          <dd>${summary.policies}</dd>
        </div>
        <div>
          <dt>rejected keys</dt>
          <dd class=${summary.rejected > 0 ? 'bad-text' : ''}>${summary.rejected}</dd>
        </div>
        <div>
          <dt>clients</dt>
          <dd id="count-clients">${summary.clients}</dd>
        </div>
        <div>
          <dt>NACKing</dt>
          <dd class=${summary.nacking > 0 ? 'bad-text' : ''} id="count-nacking">${summary.nacking}</dd>
        </div>
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
  const [filter, setFilter] = useState('');
  const { page, error } = usePage('/ui/api/services', tick, offset, filter);
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
  const { page, error } = usePage('/ui/api/rejected', tick, offset, '');
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
  const text = type.status === 'acked' ? '✓' : type.status === 'nacked' ? 'NACK' : type.status;
  return html`<span
    class="chip ${type.status}"
    data-type=${type.type}
    data-status=${type.status}
    title=${type.error ?? type.acked ?? ''}
  >
    ${type.type} ${text}${type.status === 'nacked' && html`<span class="nack-error">: ${type.error}</span>`}
  </span>`;
}

/** @param {{ tick: number }} props */
function Clients({ tick }) {
  const [offset, setOffset] = useState(0);
  const [filter, setFilter] = useState('');
  const { page, error } = usePage('/ui/api/clients', tick, offset, filter);
  return html`<section id="clients">
    <h2>Connected clients</h2>
    <div class="toolbar">
      <${Filter}
        name="client-filter"
        value=${filter}
        placeholder="filter node ids"
        onInput=${(/** @type {string} */ v) => (setFilter(v), setOffset(0))}
      />
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
              <td class="converged">${c.converged === null ? '–' : `${c.converged.ms} ms`}</td>
              <td class="muted">${new Date(c.connectedAt).toLocaleTimeString()}</td>
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
      getJson(`/debug/explain?${query}`).then(
        (body) => (setAnswer(body), setError(null), setAnswers((n) => n + 1)),
        (failure) => (setAnswer(null), setError(String(failure.message)), setAnswers((n) => n + 1)),
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

function App() {
  const [summary, setSummary] = useState(/** @type {any} */ (null));
  const [live, setLive] = useState(false);
  const [ticks, setTicks] = useState({ services: 0, clients: 0 });
  const seen = useRef({ revision: /** @type {any} */ (undefined), rejected: -1, clientsVersion: -1 });
  useEffect(() => {
    const events = new EventSource('/ui/events');
    events.addEventListener('open', () => setLive(true));
    events.addEventListener('error', () => setLive(false));
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
    return () => events.close();
  }, []);
  return html`
    <${Header} summary=${summary} live=${live} />
    <main>
      <${LatencyChart} timeline=${summary?.timeline} />
      <${Services} tick=${ticks.services} />
      <${Rejected} tick=${ticks.services} />
      <${Clients} tick=${ticks.clients} />
      <${Explain} />
    </main>
  `;
}

const root = /** @type {HTMLElement} */ (document.getElementById('app'));
root.textContent = '';
render(html`<${App} />`, root);
