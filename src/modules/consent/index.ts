export {
  type ConsentEntry,
  type ConsentLedger,
  type ConsentLedgerDeps,
  type ConsentOrigin,
  type ConsentRecord,
  createConsentLedger,
} from './consent.service.js';
