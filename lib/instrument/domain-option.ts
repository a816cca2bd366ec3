import { domain as getDomain, Domain } from '../nvtx/index.js';

/** The `domain` option of the instrumentations: a Domain, its name, or the instrumentation's default name. */
export function domainOption(value: Domain | string | undefined, defaultName: string): Domain {
  return value instanceof Domain ? value : getDomain(value ?? defaultName);
}
