// The dashboard's files, all served by etcd-xds itself (no CDN, no external network): the page
// (page/: HTML, one ES module, CSS) and three small libraries from npm. `npm run build` copies the
// page and the libraries into dist/admin/ui/page (scripts/build-ui.ts, from the list below); run
// from source, the libraries are read from node_modules.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/** The libraries the page uses, by the name it asks for: the npm package and the file in it. */
export const VENDORED: Readonly<Record<string, readonly [string, string]>> = {
  // Preact (4 kB) renders the page from state; htm lets it write markup as tagged templates, so
  // the page needs no compile step.
  'preact.js': ['preact', 'dist/preact.module.js'],
  'hooks.js': ['preact', 'hooks/dist/hooks.module.js'],
  'htm.js': ['htm', 'dist/htm.module.js'],
  // uPlot (50 kB) draws the latency chart: small, fast, no dependencies.
  'uplot.js': ['uplot', 'dist/uPlot.iife.min.js'],
  'uplot.css': ['uplot', 'dist/uPlot.min.css'],
};

/** Where npm installed `name`: the directory above its entry point that holds its package.json. */
export function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json')) || path.basename(dir) !== name) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the directory of package ${name}`);
    dir = up;
  }
  return dir;
}

/** The page's own files. */
export const PAGE_FILES = ['index.html', 'app.js', 'style.css'] as const;

/** Where the page's files are: next to this module (src/admin/ui/page or dist/admin/ui/page). */
export const PAGE_DIR = path.join(__dirname, 'page');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

function asset(file: string): Asset {
  return assetOf(fs.readFileSync(file), CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream');
}

function assetOf(body: Buffer, contentType: string): Asset {
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
  };
}

/**
 * The page as served at `/ui` (no trailing slash): its links are relative to `/ui/`, so it says
 * so with a `<base href="ui/">` (relative too, so it holds behind a path prefix).
 */
export const PAGE_AT_UI = 'index.html at /ui';

/** A vendored library: copied next to the page by the build, else (run from source) from node_modules. */
function vendored(name: string): string {
  const copied = path.join(PAGE_DIR, 'vendor', name);
  if (fs.existsSync(copied)) return copied;
  const [pkg, file] = VENDORED[name];
  return path.join(packageDir(pkg), file);
}

/**
 * Every asset by its path under /ui/ ("" is the page itself; PAGE_AT_UI the page at /ui), read
 * once: a few hundred kB that do not change while the process runs.
 */
export function loadAssets(): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const file of PAGE_FILES) assets.set(file, asset(path.join(PAGE_DIR, file)));
  const page = assets.get('index.html')!;
  assets.set('', page);
  const html = page.body.toString('utf8');
  if (!html.includes('<head>')) throw new Error('index.html has no <head>');
  assets.set(
    PAGE_AT_UI,
    assetOf(Buffer.from(html.replace('<head>', '<head>\n    <base href="ui/" />')), page.contentType),
  );
  for (const name of Object.keys(VENDORED)) assets.set(`vendor/${name}`, asset(vendored(name)));
  return assets;
}
