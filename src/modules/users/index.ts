export {
  createInvitationMailer,
  type InvitationEmailOutcome,
  type InvitationMailer,
} from './invitation-mail.js';
export { invitationPageRoutes } from './invitation-page.js';
export { isRole, ROLE_DESCRIPTIONS, ROLES, type Role, scopesOf } from './roles.js';
export {
  clearSessionCookie,
  readSessionCookie,
  SESSION_COOKIE,
  serializeSessionCookie,
} from './session-cookie.js';
export { usersRoutes } from './users.routes.js';
export {
  type AuthenticatedSession,
  createUserService,
  type Invitation,
  type Member,
  type SessionRefusal,
  type SessionUser,
  type StartedSession,
  type UserService,
  type UserSettings,
} from './users.service.js';
