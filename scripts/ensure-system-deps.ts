// Makes sure the Debian packages the tests and demo run against are installed: etcd-server (a
// real etcd) and python3-grpcio (a second, C-core, xDS client). Installs them when missing and
// running as root; otherwise says what to install.
import { execFileSync } from 'node:child_process';
import { ensureEtcdBinary } from '../testkit/etcd';
import { SYSTEM_PYTHON } from '../testkit/xds-client-process';

function hasPythonGrpc(): boolean {
  try {
    execFileSync(SYSTEM_PYTHON, ['-c', 'import grpc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

ensureEtcdBinary();
if (!process.argv.includes('--etcd-only') && !hasPythonGrpc()) {
  if (process.getuid?.() !== 0) {
    console.error('python3-grpcio is missing: install it with "sudo apt-get install python3-grpcio"');
    process.exit(1);
  }
  console.error('python3-grpcio not found: installing Debian package python3-grpcio');
  execFileSync('/usr/bin/apt-get', ['install', '-y', '-qq', 'python3-grpcio'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}
