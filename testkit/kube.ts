// Offline checks of deploy/: render kustomizations with kustomize, validate the objects against
// the Kubernetes JSON schemas (kubernetes-validate), and turn a rendered container into the local
// command line it would run. Tools come from scripts/build-deploy-tools.sh.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { stopChild } from './stop-child';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..');
const KUSTOMIZE = path.join(ROOT, 'build/tools/bin/kustomize');
const KUBERNETES_VALIDATE = path.join(ROOT, 'build/tools/k8s-validate/bin/kubernetes-validate');

/** A Kubernetes object as rendered; fields are read through the typed views below. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
  };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  automountServiceAccountToken?: boolean;
  volumes?: { name: string; configMap?: { name: string } }[];
}

export interface Workload extends KubeObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

export async function kustomizeBuild(dir: string): Promise<{ yaml: string; objects: KubeObject[] }> {
  const { stdout } = await run(KUSTOMIZE, ['build', dir], { maxBuffer: 16 << 20 });
  const objects = parseAllDocuments(stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`kustomize output: ${doc.errors[0].message}`);
    return doc.toJS() as KubeObject;
  });
  return { yaml: stdout, objects };
}

/**
 * Validates YAML (one or more objects) with kubernetes-validate --strict (unknown fields are
 * errors) against one Kubernetes version; resolves to the problems it printed (none when valid).
 */
export async function kubernetesValidate(yaml: string, version: string): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-kube-'));
  const file = path.join(dir, 'objects.yaml');
  fs.writeFileSync(file, yaml);
  try {
    await run(KUBERNETES_VALIDATE, ['--strict', '--no-warn', '--quiet', '-k', version, file]);
    return [];
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    const problems = `${stdout}${stderr}`.split('\n').filter((line) => line.trim() !== '');
    return problems.length > 0 ? problems : [String(error)];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function find<T extends KubeObject = KubeObject>(
  objects: KubeObject[],
  kind: string,
  name: string,
): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found as T;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];

export function workloads(objects: KubeObject[]): Workload[] {
  return objects.filter((o) => WORKLOAD_KINDS.includes(o.kind)) as Workload[];
}

export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The container port a probe or Service targets (by name or number). */
export function containerPort(container: Container, port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/**
 * The environment Kubernetes would give the container: `envFrom` ConfigMaps, then `env` (values,
 * ConfigMap keys, and `fieldRef`s answered by `fields`).
 */
export function containerEnv(
  container: Container,
  objects: KubeObject[],
  fields: Record<string, string>,
): Record<string, string> {
  const configMap = (name: string): Record<string, string> =>
    find<KubeObject & { data?: Record<string, string> }>(objects, 'ConfigMap', name).data ?? {};
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.secretRef) throw new Error(`${container.name}: secretRef is not supported here`);
    Object.assign(env, configMap(source.configMapRef!.name));
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from?.fieldRef) {
      const value = fields[from.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`${container.name}: no value for ${from.fieldRef.fieldPath}`);
      env[variable.name] = value;
    } else if (from?.configMapKeyRef) {
      env[variable.name] = configMap(from.configMapKeyRef.name)[from.configMapKeyRef.key] ?? '';
    } else if (from !== undefined) {
      throw new Error(`${container.name}: unsupported valueFrom for ${variable.name}`);
    } else {
      env[variable.name] = expand(variable.value ?? '', env);
    }
  }
  return env;
}

/** Kubernetes' `$(VAR)` expansion in command, args and env values (`$$` escapes). */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) =>
    whole === '$$' ? '$' : name !== undefined && name in env ? env[name] : whole,
  );
}

/** What a container runs: its command or the image's entrypoint, then its args or the image's CMD. */
export function containerArgv(
  container: Container,
  image: { entrypoint: string[]; cmd: string[] },
  env: Record<string, string>,
): string[] {
  const argv = container.command
    ? [...container.command, ...(container.args ?? [])]
    : [...image.entrypoint, ...(container.args ?? image.cmd)];
  return argv.map((arg) => expand(arg, env));
}

/** A container's command run as a local process, with its output kept for failure messages. */
export class ContainerProcess {
  private output = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  static start(name: string, argv: string[], env: Record<string, string>, cwd: string): ContainerProcess {
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ContainerProcess(name, child);
  }

  get stdout(): string {
    return this.output;
  }

  /** SIGTERM, as the kubelet sends; SIGKILL after `graceMs`. Resolves to the exit code. */
  async terminate(graceMs = 10_000): Promise<number | null> {
    await stopChild(this.child, graceMs);
    return this.exited;
  }
}
