export { checkEmail, checkLocale, checkTags, checkTimezone, requireEmail } from './contact-fields.js';
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
  createContactService,
} from './contacts.service.js';
export { normalizeEmail } from './email-address.js';
