// The client flavours etcd-xds translates for, and which translation each one gets.
import type { Catalog } from '../registry/catalog';
import { envoyViewOverrides, translateForEnvoy } from './envoy/translate';
import type { EnvoyListenerAddress } from './envoy/listener';
import { grpcViewOverrides, translateForGrpc, updateForGrpc } from './grpc/translate';
import type { Resource, ResourceSet, TouchedNames } from './resource-set';
import { GRPC_CAPABILITIES, type Flavour, type GrpcFlavour } from './flavour';
import { plainView, type View } from './view';

export { FLAVOURS, type Flavour } from './flavour';

export interface TranslateSettings {
  readonly envoyListener: EnvoyListenerAddress;
}

export const DEFAULT_TRANSLATE_SETTINGS: TranslateSettings = {
  envoyListener: { host: '0.0.0.0', port: 10000 },
};

/** Catalog → resources for every view, with the deployment's settings applied. Pure. */
export interface Translator {
  /** Every resource a client of this view gets. */
  translate(catalog: Catalog, view: View): ResourceSet;
  /**
   * The resources in which this view differs from the plain view of its flavour (same names,
   * other content): `translate(catalog, view)` is `translate(catalog, plainView(flavour))` with
   * these in place. Lets a cache keep one snapshot per flavour and only the differences per view.
   */
  overrides(catalog: Catalog, view: View): Resource[];
  /**
   * The plain view's translation of `catalog` from `previous`, that of the catalog it was built
   * from, when only the services named in `changed` differ; with the names it touched. Equal to
   * `translate(catalog, plainView(flavour))`; costs what changed. Undefined when the flavour
   * cannot be updated so (Envoy: its route configuration holds every service).
   */
  update(
    previous: ResourceSet,
    catalog: Catalog,
    flavour: Flavour,
    changed: ReadonlySet<string>,
  ): { resources: ResourceSet; touched: TouchedNames } | undefined;
}

export function translator(settings: TranslateSettings): Translator {
  const grpcOptions = (flavour: GrpcFlavour) => ({ flavour, ...GRPC_CAPABILITIES[flavour] });
  return {
    translate(catalog, view) {
      return view.flavour === 'envoy'
        ? translateForEnvoy(catalog, { listener: settings.envoyListener }, view)
        : translateForGrpc(catalog, grpcOptions(view.flavour), view);
    },
    overrides(catalog, view) {
      return view.flavour === 'envoy'
        ? envoyViewOverrides(catalog, view)
        : grpcViewOverrides(catalog, view, grpcOptions(view.flavour));
    },
    update(previous, catalog, flavour, changed) {
      return flavour === 'envoy'
        ? undefined
        : updateForGrpc(previous, catalog, changed, grpcOptions(flavour));
    },
  };
}

/** Translation with the default settings (tests and tools), for a flavour's plain view or a view. */
export function translateFor(view: Flavour | View, catalog: Catalog): ResourceSet {
  return translator(DEFAULT_TRANSLATE_SETTINGS).translate(
    catalog,
    typeof view === 'string' ? plainView(view) : view,
  );
}
