export { checkEmail, checkLocale, checkTags, checkTimezone, requireEmail } from './contact-fields.js';
export { shareablePredicate } from './contacts.repository.js';
export { contactsRoutes, parseContactFilter } from './contacts.routes.js';
export {
  ContactFilterQuery,
  ContactSchema,
  ContactStatusSchema,
  MembershipStatusSchema,
} from './contacts.schemas.js';
export {
  type Contact,
  type ContactFilter,
  type ContactInput,
  type ContactPatch,
  type ContactService,
  type ContactWritten,
  createContactService,
  type ErasedAddresses,
  erasedError,
  isShareable,
} from './contacts.service.js';
export { normalizeEmail } from './email-address.js';
export {
  applyHygienePolicy,
  classifyEmail,
  DEFAULT_HYGIENE_POLICY,
  type HygieneCode,
  type HygieneFinding,
  type HygienePolicy,
  type HygieneWarning,
  inspectEmail,
  noMailError,
  suggestDomain,
} from './email-hygiene.js';
export { createMxCheck, type MxCheck, type MxVerdict } from './mx-check.js';
