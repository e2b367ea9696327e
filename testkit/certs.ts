// Throwaway certificates for TLS tests, made with the openssl command line: a CA, and leaf
// certificates for 127.0.0.1/localhost usable as server and client.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** openssl arguments for a new P-256 key, unencrypted. */
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export class TestPki {
  private constructor(readonly dir: string) {}

  static create(): TestPki {
    return new TestPki(fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-pki-')));
  }

  /** A self-signed CA. */
  ca(name: string): KeyPair {
    const pair = this.paths(name);
    openssl([
      'req',
      '-x509',
      ...NEW_EC_KEY,
      '-keyout',
      pair.key,
      '-out',
      pair.cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return pair;
  }

  /** A certificate signed by `ca`, valid for 127.0.0.1 and localhost, as server and client. */
  leaf(name: string, ca: KeyPair): KeyPair {
    const pair = this.paths(name);
    const csr = path.join(this.dir, `${name}.csr`);
    const ext = path.join(this.dir, `${name}.ext`);
    fs.writeFileSync(
      ext,
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
    );
    openssl(['req', ...NEW_EC_KEY, '-keyout', pair.key, '-out', csr, '-subj', `/CN=${name}`]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      pair.cert,
      '-days',
      '2',
      '-extfile',
      ext,
    ]);
    return pair;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private paths(name: string): KeyPair {
    return { cert: path.join(this.dir, `${name}.pem`), key: path.join(this.dir, `${name}.key`) };
  }
}
