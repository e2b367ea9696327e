// Golden files for translation tests: every resource of a set, decoded from the bytes clients
// receive, compared with test/unit/translate/golden/<name>.json (UPDATE_GOLDEN=1 rewrites them).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeResource } from '../../../src/cache/encoded-resource';
import { decodeToJson } from '../../../src/proto/proto-root';
import { PUSH_ORDER } from '../../../src/proto/xds-types';
import type { ResourceSet } from '../../../src/translate/resource-set';

const GOLDEN_DIR = path.join(__dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Every resource of a set, decoded from its encoded bytes (what clients receive). */
export function dump(set: ResourceSet): object {
  return Object.fromEntries(
    PUSH_ORDER.map((type) => [
      type.short,
      [...set.byType.get(type)!.values()].map((r) => decodeToJson(type.messageName, encodeResource(r).bytes)),
    ]),
  );
}

export function assertGolden(name: string, actual: object): void {
  const file = path.join(GOLDEN_DIR, `${name}.json`);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (UPDATE) fs.writeFileSync(file, text);
  assert.ok(fs.existsSync(file), `golden ${file} is missing; run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(
    text,
    fs.readFileSync(file, 'utf8'),
    `${name} differs from its golden (UPDATE_GOLDEN=1 to accept)`,
  );
}
