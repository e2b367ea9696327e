// The TypeScript API etcd-xds exports for Node services and tools.
export { Registrar, registrationValue, type RegistrarOptions } from './register/registrar';
export { grpcBootstrap, type BootstrapOptions } from './cli/bootstrap';
export { parseInstance, type Instance } from './registry/instance';
export { parsePolicy, type RoutingPolicy } from './registry/policy';
export { EtcdXdsError, ErrorCode } from './errors';
