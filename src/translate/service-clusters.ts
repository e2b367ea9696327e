// Which clusters a service has and who is in each: every instance, and one per version that has a
// serving instance (its draining instances stay in it, sent as DRAINING).
import type { ServiceCatalog } from '../registry/catalog';
import type { Instance } from '../registry/instance';
import { serviceClusterName, versionClusterName } from './resource-names';
import { versionsWithInstances } from './route-plan';

export interface ServiceCluster {
  readonly name: string;
  readonly members: readonly Instance[];
}

export function serviceClusters(service: ServiceCatalog): ServiceCluster[] {
  const clusters: ServiceCluster[] = [{ name: serviceClusterName(service.name), members: service.instances }];
  for (const version of versionsWithInstances(service)) {
    clusters.push({
      name: versionClusterName(service.name, version),
      members: service.instances.filter((instance) => instance.version === version),
    });
  }
  return clusters;
}
