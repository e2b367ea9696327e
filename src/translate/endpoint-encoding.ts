// ClusterLoadAssignments are the resources that change most (every instance change makes one),
// so they are built in the form protobufjs encodes directly: plain fields, wrappers as
// { value }, enums as numbers. Encoding then skips fromObject (a third of their encoding time);
// test/unit/translate/endpoint-encoding.test.ts checks the bytes equal the fromObject path's for
// every shape the builders make.

/** envoy.config.core.v3.HealthStatus DRAINING, as the number the runtime encodes. */
export const HEALTH_STATUS_DRAINING = 3;
