import { randomBytes } from 'node:crypto';
import type { OidcSessionStarter } from '../modules/oauth/index.js';
import type { UserService } from '../modules/users/index.js';

/** The role of a person whose first sign-in through OpenID Connect made them a user (provisioning). */
export const PROVISIONED_ROLE = 'viewer';

/**
 * Connects the OpenID Connect sign-in to user sessions: a verified address of
 * a workspace member gets a session; anyone else is refused, unless the
 * provider provisions users, in which case they become a viewer first (an
 * admin raises the role). Provisioned users get a random password nobody
 * knows: they sign in through the provider, or set one with a reset.
 */
export function createOidcSessions(users: UserService): OidcSessionStarter {
  return {
    async start(identity, options) {
      const input = {
        workspaceId: identity.workspaceId,
        email: identity.email,
        ip: options.ip,
        userAgent: options.userAgent,
      };
      let result = await users.startSessionForVerifiedEmail(input);
      if (
        'refused' in result &&
        options.provision &&
        (result.refused === 'unknown_user' || result.refused === 'not_a_member')
      ) {
        await users.createUser({
          email: identity.email,
          password: `sso-${randomBytes(32).toString('base64url')}`,
          workspaceId: identity.workspaceId,
          role: PROVISIONED_ROLE,
        });
        result = await users.startSessionForVerifiedEmail(input);
      }
      if ('refused' in result) return { ok: false, reason: result.detail };
      return { ok: true, setCookie: [result.setCookie] };
    },
  };
}
