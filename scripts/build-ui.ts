// Part of `npm run build`: puts the dashboard's page and the libraries it uses next to the
// compiled server (dist/admin/ui/page), so a build serves /ui without node_modules' dev packages.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageDir, PAGE_FILES, VENDORED } from '../src/admin/ui/assets';

const ROOT = path.join(__dirname, '..');
const from = path.join(ROOT, 'src/admin/ui/page');
const to = path.join(ROOT, 'dist/admin/ui/page');
fs.rmSync(to, { recursive: true, force: true });
fs.mkdirSync(path.join(to, 'vendor'), { recursive: true });
for (const file of PAGE_FILES) fs.copyFileSync(path.join(from, file), path.join(to, file));
for (const [name, [pkg, file]] of Object.entries(VENDORED))
  fs.copyFileSync(path.join(packageDir(pkg), file), path.join(to, 'vendor', name));
console.log(
  `dashboard: ${PAGE_FILES.length} page files and ${Object.keys(VENDORED).length} libraries in ${path.relative(ROOT, to)}`,
);
