// Makes sure the Debian packages the tests and demo run against are installed: etcd-server (a
// real etcd), python3-grpcio (a second, C-core, xDS client), prometheus (promtool and a real
// Prometheus for deploy/observability) and chromium (a real browser for the dashboard). Installs them when missing and running as root; otherwise
// says what to install.
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

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

ensureEtcdBinary();
if (!process.argv.includes('--etcd-only')) {
  const missing = [
    ...(hasPythonGrpc() ? [] : ['python3-grpcio']),
    ...(hasCommand('promtool') && hasCommand('prometheus') ? [] : ['prometheus']),
    ...(hasCommand('chromium') ? [] : ['chromium']),
  ];
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      console.error(`missing Debian packages: install them with "sudo apt-get install ${missing.join(' ')}"`);
      process.exit(1);
    }
    console.error(`installing Debian packages: ${missing.join(' ')}`);
    execFileSync('/usr/bin/apt-get', ['install', '-y', '-qq', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
}
