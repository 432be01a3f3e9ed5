export { domainAndParents, normalizeDomain } from './domain-name.js';
export { sendingDomainsRoutes } from './sending-domains.routes.js';
export { SendingDomainSchema } from './sending-domains.schemas.js';
export {
  createSendingDomainService,
  DEFAULT_SELECTOR,
  type DkimSigner,
  type SendingDomain,
  type SendingDomainInput,
  type SendingDomainService,
} from './sending-domains.service.js';
