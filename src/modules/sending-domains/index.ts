export { createDnsLookup, type DnsLookup } from './dns-resolver.js';
export type { CheckItem, DomainCheck } from './domain-check.js';
export { domainAndParents, normalizeDomain, organizationalDomain } from './domain-name.js';
export type { AuthenticationSettings, DnsRecordToPublish } from './domain-records.js';
export { sendingDomainsRoutes } from './sending-domains.routes.js';
export { SendingDomainSchema } from './sending-domains.schemas.js';
export {
  createSendingDomainService,
  DEFAULT_SELECTOR,
  type DkimSigner,
  type SendingDomain,
  type SendingDomainChanges,
  type SendingDomainInput,
  type SendingDomainService,
} from './sending-domains.service.js';
