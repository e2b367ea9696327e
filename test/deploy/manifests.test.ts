// deploy/: the kustomize base and the example overlay render, validate against the Kubernetes
// schemas, follow the rules an operator relies on, and — run as local processes with the
// commands, args and env the manifests give — actually work: etcd starts with the StatefulSet's
// flags, etcd-xds with the Deployment's, the demo pods register themselves, and the demo client
// routes by version with the bootstrap from the ConfigMap.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { parseDockerfile, dockerStages, imageConfig, type ImageConfig } from '../../testkit/dockerfile';
import {
  containerArgv,
  containerEnv,
  containerPort,
  ContainerProcess,
  find,
  kubernetesValidate,
  kustomizeBuild,
  labelsMatch,
  workloads,
  type Container,
  type KubeObject,
  type Workload,
} from '../../testkit/kube';
import { eventually } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { runCli, ROOT } from '../../testkit/run-cli';
import { ServerProcess } from '../../testkit/server-process';

const BASE = path.join(ROOT, 'deploy/base');
const EXAMPLE = path.join(ROOT, 'deploy/overlays/example');
/** The oldest and newest Kubernetes versions the manifests are validated against. */
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];

const image: ImageConfig = imageConfig(
  dockerStages(parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))).at(-1)!,
);

type ServiceObject = KubeObject & {
  spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
};
type PdbObject = KubeObject & {
  spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number; minAvailable?: number };
};
type ConfigMapObject = KubeObject & { data: Record<string, string> };

interface Rendered {
  yaml: string;
  objects: KubeObject[];
}

function onlyContainer(workload: Workload): Container {
  assert.equal(workload.spec.template.spec.containers.length, 1, `${workload.metadata.name}: one container`);
  return workload.spec.template.spec.containers[0];
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  return args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

/** argv with the image's paths mapped to this checkout: its Node for the image's, ROOT for /app. */
function local(argv: string[]): string[] {
  assert.equal(argv[0], image.entrypoint[0], 'manifests run the Node binary the image has');
  return [process.execPath, ...argv.slice(1).map((arg) => arg.replace(/^\/app\//, `${ROOT}/`))];
}

describe('deploy/ manifests', () => {
  let base: Rendered;
  let example: Rendered;

  before(async () => {
    base = await kustomizeBuild(BASE);
    example = await kustomizeBuild(EXAMPLE);
  });

  for (const version of KUBERNETES_VERSIONS) {
    it(`render and validate strictly against the Kubernetes ${version} schemas`, async () => {
      for (const [name, rendered] of [
        ['base', base],
        ['example', example],
      ] as const) {
        assert.deepEqual(await kubernetesValidate(rendered.yaml, version), [], `${name} is valid`);
      }
    });
  }

  it('the validator catches a misspelt field, and a wrong type (control)', async () => {
    for (const [broken, expected] of [
      [base.yaml.replace('readinessProbe:', 'readinesProbe:'), "'readinesProbe' was unexpected"],
      [base.yaml.replace(/replicas: 2/, 'replicas: "two"'), "'two' is not of type 'integer'"],
    ] as const) {
      const problems = await kubernetesValidate(broken, KUBERNETES_VERSIONS[0]);
      assert.ok(
        problems.some((p) => p.includes(expected)),
        `${expected} reported: ${problems.join('\n')}`,
      );
    }
  });

  it('base: ≥ 2 replicas; probes on /readyz and /healthz at the admin port etcd-xds listens on', () => {
    const deployment = find<Workload>(base.objects, 'Deployment', 'etcd-xds');
    assert.ok((deployment.spec.replicas ?? 1) >= 2, 'at least two replicas');
    const container = onlyContainer(deployment);
    const args = container.args ?? image.cmd;
    assert.equal(args[0], 'serve');
    const adminPort = Number(flagValue(args, '--admin-port'));
    const xdsPort = Number(flagValue(args, '--port'));
    assert.equal(
      flagValue(args, '--admin-host'),
      '0.0.0.0',
      'the kubelet reaches the admin port from outside',
    );
    assert.equal(containerPort(container, 'admin'), adminPort);
    assert.equal(containerPort(container, 'xds'), xdsPort);
    assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(containerPort(container, container.readinessProbe.httpGet.port), adminPort);
    assert.equal(container.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(containerPort(container, container.livenessProbe.httpGet.port), adminPort);
  });

  it('base: the xDS and admin Services and the PodDisruptionBudget select the etcd-xds pods', () => {
    const deployment = find<Workload>(base.objects, 'Deployment', 'etcd-xds');
    const podLabels = deployment.spec.template.metadata.labels;
    const container = onlyContainer(deployment);
    const expectations = [
      ['etcd-xds', 'xds'],
      ['etcd-xds-admin', 'admin'],
    ];
    for (const [name, portName] of expectations) {
      const service = find<ServiceObject>(base.objects, 'Service', name);
      assert.ok(labelsMatch(service.spec.selector, podLabels), `${name} selects the pods`);
      assert.deepEqual(
        service.spec.ports.map((p) => p.targetPort),
        [portName],
        `${name} exposes only ${portName}`,
      );
      assert.ok(containerPort(container, portName) !== undefined);
    }
    const pdb = find<PdbObject>(base.objects, 'PodDisruptionBudget', 'etcd-xds');
    assert.ok(labelsMatch(pdb.spec.selector.matchLabels, podLabels), 'the PDB selects the pods');
    assert.ok(
      pdb.spec.maxUnavailable !== undefined
        ? pdb.spec.maxUnavailable < (deployment.spec.replicas ?? 1)
        : (pdb.spec.minAvailable ?? 0) >= 1,
      'a drain keeps at least one replica',
    );
  });

  it('every pod runs non-root with a read-only root filesystem, no privilege escalation, no capabilities, and resource requests and limits', () => {
    for (const workload of workloads(example.objects)) {
      const pod = workload.spec.template.spec;
      const name = workload.metadata.name;
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
      assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${name}: a non-zero runAsUser`);
      assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${name}: seccomp`);
      assert.equal(pod.automountServiceAccountToken, false, `${name}: no API token`);
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const where = `${name}/${container.name}`;
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root`);
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${where}: no escalation`);
        assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'], `${where}: drops ALL`);
        for (const kind of ['requests', 'limits'] as const) {
          for (const resource of ['cpu', 'memory']) {
            assert.ok(container.resources?.[kind]?.[resource], `${where}: ${kind}.${resource}`);
          }
        }
      }
    }
    const namespace = find(example.objects, 'Namespace', 'etcd-xds');
    assert.equal(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('the client bootstrap ConfigMap is what `etcd-xds bootstrap` prints for the xDS Service', async () => {
    const configMap = find<ConfigMapObject>(base.objects, 'ConfigMap', 'etcd-xds-client-bootstrap');
    const service = find<ServiceObject>(base.objects, 'Service', 'etcd-xds');
    const server = `${service.metadata.name}.${service.metadata.namespace}.svc:${service.spec.ports[0].port}`;
    // The command the base's kustomization.yaml documents.
    const printed = await runCli([
      'bootstrap',
      '--server',
      server,
      '--node-id',
      'grpc-client',
      '--cluster',
      'etcd-xds-clients',
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(configMap.data['bootstrap.json'], printed.stdout);
  });

  it('the example overlay carries the observability component: alert rules and the Grafana dashboard, verbatim', () => {
    const rules = find<ConfigMapObject>(example.objects, 'ConfigMap', 'etcd-xds-prometheus-rules');
    assert.equal(
      rules.data['alerts.yaml'],
      fs.readFileSync(path.join(ROOT, 'deploy/observability/alerts.yaml'), 'utf8'),
    );
    const dashboard = find<ConfigMapObject>(example.objects, 'ConfigMap', 'etcd-xds-grafana-dashboard');
    assert.equal(dashboard.metadata.labels?.grafana_dashboard, '1');
    assert.equal(
      dashboard.data['etcd-xds.json'],
      fs.readFileSync(path.join(ROOT, 'deploy/observability/grafana-dashboard.json'), 'utf8'),
    );
    // Optional: the base alone has neither.
    assert.equal(base.objects.filter((o) => o.metadata.name.startsWith('etcd-xds-prometheus')).length, 0);
  });

  it('the programs the manifests run exist in the build, at the paths the image puts them', () => {
    for (const workload of workloads(example.objects)) {
      const container = onlyContainer(workload);
      if (!container.image.startsWith('etcd-xds:')) continue;
      const argv = containerArgv(container, image, {});
      const script = argv[1];
      assert.match(script, /^\/app\/dist\//, `${workload.metadata.name} runs a built file`);
      assert.ok(fs.existsSync(local(argv)[1]), `${script} is built`);
    }
  });

  describe('the example overlay, run as local processes', () => {
    const processes: ContainerProcess[] = [];
    let server: ServerProcess | undefined;
    let kv: Etcd3 | undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-deploy-'));
    const ports = { client: 0, peer: 0, metrics: 0 };

    after(async () => {
      kv?.close();
      await Promise.all(processes.map((p) => p.terminate(5_000)));
      await server?.signal('SIGTERM').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The example's in-cluster addresses, pointed at this machine's loopback ports. */
    const toLocal = (text: string): string =>
      text
        .replace(/http:\/\/(0\.0\.0\.0|etcd-0\.etcd|etcd):2379/g, `http://127.0.0.1:${ports.client}`)
        .replace(/http:\/\/(0\.0\.0\.0|etcd-0\.etcd):2380/g, `http://127.0.0.1:${ports.peer}`)
        .replace(/http:\/\/0\.0\.0\.0:2381/g, `http://127.0.0.1:${ports.metrics}`)
        .replace(/^--data-dir=.*/, `--data-dir=${path.join(dir, 'etcd')}`);

    /** The container's environment as Kubernetes would set it, with addresses made local. */
    const localEnv = (container: Container, fields: Record<string, string>): Record<string, string> =>
      Object.fromEntries(
        Object.entries(containerEnv(container, example.objects, fields)).map(([k, v]) => [k, toLocal(v)]),
      );

    it("etcd starts with the StatefulSet's command and answers its probe", async () => {
      Object.assign(ports, { client: await freePort(), peer: await freePort(), metrics: await freePort() });
      const statefulSet = find<Workload>(example.objects, 'StatefulSet', 'etcd');
      const container = onlyContainer(statefulSet);
      const env = containerEnv(container, example.objects, { 'metadata.name': 'etcd-0' });
      // Debian's etcd (3.4) stands in for the image's (3.5); the flags are the same.
      const argv = containerArgv(container, { entrypoint: [], cmd: [] }, env).map(toLocal);
      argv[0] = '/usr/bin/etcd';
      const etcd = ContainerProcess.start('etcd', argv, env, dir);
      processes.push(etcd);
      const probe = container.readinessProbe!.httpGet!;
      assert.equal(containerPort(container, probe.port), 2381);
      await eventually(
        async () =>
          (await fetch(`http://127.0.0.1:${ports.metrics}${probe.path}`).catch(() => undefined))?.status,
        (status) => assert.equal(status, 200, etcd.stdout.slice(-2000)),
        { timeoutMs: 20_000 },
      );
      kv = new Etcd3({ hosts: `http://127.0.0.1:${ports.client}` });
    });

    it("etcd-xds starts with the Deployment's args and env; its probes answer 200", async () => {
      const container = onlyContainer(find<Workload>(example.objects, 'Deployment', 'etcd-xds'));
      const env = localEnv(container, {});
      assert.equal(env.ETCD_XDS_ETCD, `http://127.0.0.1:${ports.client}`, 'the overlay points at its etcd');
      // Loopback and free ports instead of 0.0.0.0:18000/18001; every other arg as given.
      const argv = local(containerArgv(container, image, env)).map((arg) =>
        arg
          .replace(/^--(admin-)?host=0\.0\.0\.0$/, '--$1host=127.0.0.1')
          .replace(/^--(admin-)?port=\d+$/, '--$1port=0'),
      );
      server = await ServerProcess.spawn(argv.slice(1), { env: { PATH: process.env.PATH, ...env } });
      // Like the kubelet, probe until ready; alive from the start.
      const ready = container.readinessProbe!.httpGet!.path;
      await eventually(
        () => server!.admin(ready),
        (response) => assert.equal(response.status, 200, `${ready}: ${JSON.stringify(response.body)}`),
      );
      const alive = container.livenessProbe!.httpGet!.path;
      assert.equal((await server.admin(alive)).status, 200, alive);
    });

    it('the echo pods register themselves; the echo client routes by version through the bootstrap ConfigMap', async () => {
      const pods: { name: string; version: string; running: ContainerProcess }[] = [];
      for (const workload of workloads(example.objects).filter((w) => w.metadata.name.startsWith('echo-v'))) {
        const container = onlyContainer(workload);
        for (let i = 0; i < (workload.spec.replicas ?? 1); i++) {
          const podName = `${workload.metadata.name}-${i}`;
          const env = localEnv(container, { 'status.podIP': '127.0.0.1', 'metadata.name': podName });
          assert.equal(
            Number(env.ECHO_PORT),
            containerPort(container, 'grpc'),
            'the app listens on its port',
          );
          env.ECHO_PORT = String(await freePort());
          const running = ContainerProcess.start(
            podName,
            local(containerArgv(container, image, env)),
            env,
            ROOT,
          );
          processes.push(running);
          pods.push({ name: podName, version: env.ECHO_VERSION, running });
        }
      }
      assert.deepEqual(pods.map((p) => p.version).sort(), ['v1', 'v1', 'v2']);
      await eventually(
        async () => (await kv!.getAll().prefix('/services/echo/').keys()).sort(),
        (keys) =>
          assert.deepEqual(
            keys,
            pods.map((p) => `/services/echo/${p.name}`).sort(),
            pods.map((p) => p.running.stdout).join('\n'),
          ),
        { timeoutMs: 20_000 },
      );
      await eventually(
        async () =>
          (
            await server!.admin<{ catalog: { services: { name: string; instances: unknown[] }[] } }>(
              '/debug/config_dump',
            )
          ).body.catalog.services.find((s) => s.name === 'echo')?.instances.length,
        (count) => assert.equal(count, 3),
      );

      // The client pod: its bootstrap is the ConfigMap's, with the Service address made local.
      const clientWorkload = find<Workload>(example.objects, 'Deployment', 'echo-client');
      const container = onlyContainer(clientWorkload);
      const volume = clientWorkload.spec.template.spec.volumes!.find((v) => v.configMap)!;
      const mount = container.volumeMounts!.find((m) => m.name === volume.name)!;
      const configMap = find<ConfigMapObject>(example.objects, 'ConfigMap', volume.configMap!.name);
      const env = containerEnv(container, example.objects, {});
      assert.ok(
        env.GRPC_XDS_BOOTSTRAP.startsWith(`${mount.mountPath}/`),
        'the bootstrap comes from the mount',
      );
      const bootstrap = path.join(dir, path.basename(env.GRPC_XDS_BOOTSTRAP));
      fs.writeFileSync(
        bootstrap,
        configMap.data[path.basename(env.GRPC_XDS_BOOTSTRAP)].replace(
          'etcd-xds.etcd-xds.svc:18000',
          server!.xdsAddress,
        ),
      );
      const versions = env.ECHO_VERSIONS.split(',');
      assert.deepEqual(
        versions,
        ['v1', 'v2', 'v9', ''],
        'the client cycles through v1, v2, v9 and no header',
      );
      const client = ContainerProcess.start(
        'echo-client',
        local(containerArgv(container, image, env)),
        {
          ...env,
          GRPC_XDS_BOOTSTRAP: bootstrap,
          ECHO_CALLS: String(versions.length * 3),
          ECHO_INTERVAL_MS: '50',
        },
        ROOT,
      );
      assert.equal(await client.exited, 0, client.stdout);
      const calls = client.stdout
        .trim()
        .split('\n')
        .map(
          (line) =>
            JSON.parse(line) as { header: string | null; version?: string; id?: string; error?: string },
        );
      assert.equal(calls.length, 12, client.stdout);
      for (const call of calls) {
        if (call.header === 'v1' || call.header === 'v2') {
          assert.equal(call.version, call.header, JSON.stringify(call));
          assert.ok(call.id!.startsWith(`echo-${call.header}-`), JSON.stringify(call));
        } else if (call.header === 'v9') {
          assert.equal(call.error, 'UNAVAILABLE', JSON.stringify(call));
        } else {
          assert.ok(call.version === 'v1' || call.version === 'v2', JSON.stringify(call));
        }
      }

      // Pod termination: SIGTERM deregisters the instance before the process exits 0.
      const leaving = pods.find((p) => p.version === 'v2')!;
      assert.equal(await leaving.running.terminate(), 0, leaving.running.stdout);
      assert.equal((await kv!.get(`/services/echo/${leaving.name}`).exec()).kvs.length, 0, 'deregistered');
    });
  });
});
