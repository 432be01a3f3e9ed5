export {
  type ConsentEntry,
  type ConsentLedger,
  type ConsentOrigin,
  type ConsentRecord,
  createConsentLedger,
} from './consent.service.js';
