// Views (design: "Per-client views"): everything about a client that can change what it is sent.
// Two clients with the same view get the same resources, byte for byte, on every replica.
//
// - A `Client` is what a stream declares about itself: its flavour and all its caller labels.
// - A `View` keeps only what some policy of the catalog reads: the flavour, and the caller labels
//   whose keys a caller route mentions. A label no policy reads splits nothing.
import type { Catalog, ServiceCatalog } from '../registry/catalog';
import type { CallerLabels } from './caller-labels';
import type { Flavour } from './flavours';
import { selectedCallerRoutes } from './route-plan';

export interface Client {
  readonly flavour: Flavour;
  readonly labels: CallerLabels;
}

export interface View {
  readonly flavour: Flavour;
  /** The client's labels that some policy reads, sorted by key. */
  readonly labels: CallerLabels;
  /** Canonical: equal keys, equal resources. */
  readonly key: string;
}

const NO_LABELS: CallerLabels = new Map();

/** A key naming a client by everything it declared (streams are grouped by it). */
export function clientKey(client: Client): string {
  return labelledKey(client.flavour, client.labels);
}

function labelledKey(flavour: Flavour, labels: CallerLabels): string {
  if (labels.size === 0) return flavour;
  // JSON keeps any byte of a label unambiguous; labels are already sorted.
  return `${flavour} ${JSON.stringify([...labels])}`;
}

/** The view of a client that declares nothing but its flavour: what most clients get. */
export function plainView(flavour: Flavour): View {
  return { flavour, labels: NO_LABELS, key: flavour };
}

interface CallerRouting {
  /** Label keys some caller route reads, sorted. */
  readonly keys: readonly string[];
  /** Services whose policy has caller routes, by name order. */
  readonly services: readonly ServiceCatalog[];
}

const callerRoutings = new WeakMap<Catalog, CallerRouting>();

/** Which services route on the caller, and on which labels; once per catalog. */
export function callerRouting(catalog: Catalog): CallerRouting {
  let routing = callerRoutings.get(catalog);
  if (routing === undefined) {
    const keys = new Set<string>();
    const services: ServiceCatalog[] = [];
    for (const service of catalog.services.values()) {
      if (service.policy.callerKeys.length === 0) continue;
      services.push(service);
      for (const key of service.policy.callerKeys) keys.add(key);
    }
    routing = { keys: [...keys].sort(), services };
    callerRoutings.set(catalog, routing);
  }
  return routing;
}

/** The view of a client under a catalog's policies. Pure. */
export function viewOf(client: Client, catalog: Catalog): View {
  const { keys } = callerRouting(catalog);
  if (keys.length === 0 || client.labels.size === 0) return plainView(client.flavour);
  const labels = new Map<string, string>();
  for (const key of keys) {
    const value = client.labels.get(key);
    if (value !== undefined) labels.set(key, value);
  }
  return labels.size === 0
    ? plainView(client.flavour)
    : { flavour: client.flavour, labels, key: labelledKey(client.flavour, labels) };
}

/**
 * The services whose resources differ for this view from the plain view's, each with the caller
 * routes it gets (policy indices); empty for most views.
 */
export function viewSelections(
  catalog: Catalog,
  view: View,
): readonly { readonly service: ServiceCatalog; readonly selected: readonly number[] }[] {
  if (view.labels.size === 0) return [];
  return callerRouting(catalog)
    .services.map((service) => ({ service, selected: selectedCallerRoutes(service.policy, view.labels) }))
    .filter(({ selected }) => selected.length > 0);
}
