// Generates TypeScript types for the xDS messages etcd-xds uses into src/generated/ (not committed).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROTO_FILES, PROTO_INCLUDE_DIRS } from '../src/proto/proto-files';

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'src/generated');
fs.rmSync(outDir, { recursive: true, force: true });
const bin = path.join(root, 'node_modules/.bin/proto-loader-gen-types');
execFileSync(
  bin,
  [
    '--keepCase',
    '--longs=String',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    ...PROTO_INCLUDE_DIRS.flatMap((dir) => ['-I', dir]),
    '-O',
    outDir,
    ...PROTO_FILES,
  ],
  { stdio: 'inherit' },
);
// The top-level files are per-proto package aggregates for proto-loader's loadPackageDefinition,
// which etcd-xds does not use; they also trip noUnusedLocals.
for (const entry of fs.readdirSync(outDir, { withFileTypes: true })) {
  if (entry.isFile() && entry.name.endsWith('.ts')) fs.rmSync(path.join(outDir, entry.name));
}
console.log(`generated xDS types in ${path.relative(root, outDir)}`);
