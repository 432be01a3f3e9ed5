import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf, sessionOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import { DomainError } from '../../lib/errors.js';
import { clearSessionCookie } from './session-cookie.js';
import {
  AcceptedInvitationSchema,
  AcceptInvitationBody,
  ChangePasswordBody,
  ChangeRoleBody,
  CreatedInvitationSchema,
  CreateInvitationBody,
  DisableTotpBody,
  InvitationSchema,
  LoginBody,
  MemberSchema,
  ResentInvitationSchema,
  SessionSchema,
  StartedSessionSchema,
  SwitchWorkspaceBody,
  TotpCodeBody,
  TotpEnrollment,
} from './users.schemas.js';
import type { UserService } from './users.service.js';

const Locked = Type.Ref('Problem');

export function usersRoutes(deps: {
  users: UserService;
  /** Marks the session cookie Secure. */
  cookieSecure: boolean;
  /** Origin of HERALD_PUBLIC_URL: a sign-in from a page of another origin is refused. */
  publicOrigin: string;
  /** Sign-in attempts per minute per client address. */
  loginRateLimitPerMinute: number;
}): FastifyPluginAsyncTypebox {
  const { users, cookieSecure, publicOrigin } = deps;
  return async (app) => {
    app.post(
      '/v1/session',
      {
        config: {
          public: true,
          rateLimit: {
            max: deps.loginRateLimitPerMinute,
            timeWindow: 60_000,
            keyGenerator: (request) => request.ip,
          },
        },
        schema: {
          tags: ['session'],
          summary: 'Sign in with email and password (and second-factor code)',
          description:
            'Sets the session cookie `herald_session` (HttpOnly, SameSite=Lax) and returns the CSRF token that every write request made with the cookie must carry as header `X-CSRF-Token`. With a second factor on, send `totp`; without it the answer is 401 TOTP_REQUIRED. After too many failures in a row the account is locked for a while (423 ACCOUNT_LOCKED, with the time it unlocks).',
          body: LoginBody,
          response: { ...responses({ 200: StartedSessionSchema }), 423: Locked },
        },
      },
      async (request, reply) => {
        const origin = request.headers.origin;
        if (origin !== undefined && origin !== publicOrigin)
          throw new DomainError(
            'CSRF_FAILED',
            `Sign-in from a page of origin ${origin} is refused: only ${publicOrigin} (HERALD_PUBLIC_URL) may sign in with a cookie.`,
          );
        const started = await users.login({
          email: request.body.email,
          password: request.body.password,
          totp: request.body.totp,
          workspaceId: request.body.workspace_id,
          ip: request.ip,
          userAgent: request.headers['user-agent'] ?? null,
        });
        reply.header('set-cookie', started.setCookie);
        reply.header('cache-control', 'no-store');
        return {
          user: started.user,
          workspace: started.workspace,
          role: started.role,
          csrf_token: started.csrfToken,
          expires_at: started.expiresAt,
        };
      },
    );

    app.get(
      '/v1/session',
      {
        config: { session: true },
        schema: {
          tags: ['session'],
          summary: 'The signed-in user, their workspace, role, scopes and CSRF token',
          response: responses({ 200: SessionSchema }),
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return users.describe(sessionOf(request));
      },
    );

    app.delete(
      '/v1/session',
      {
        config: { session: true },
        schema: {
          tags: ['session'],
          summary: 'Sign out: ends the session and clears the cookie',
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await users.logout(sessionOf(request).sessionId);
        reply.header('set-cookie', clearSessionCookie({ secure: cookieSecure }));
        return reply.code(204).send(null);
      },
    );

    app.put(
      '/v1/session/workspace',
      {
        config: { session: true },
        schema: {
          tags: ['session'],
          summary: 'Switch the session to another workspace you are a member of',
          body: SwitchWorkspaceBody,
          response: responses({ 200: SessionSchema }),
        },
      },
      async (request) => {
        const switched = await users.switchWorkspace(sessionOf(request), request.body.workspace_id);
        return users.describe(switched);
      },
    );

    app.post(
      '/v1/me/password',
      {
        config: { session: true },
        schema: {
          tags: ['session'],
          summary: 'Change your password; your other sessions end',
          body: ChangePasswordBody,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await users.changePassword(
          sessionOf(request),
          request.body.current_password,
          request.body.new_password,
        );
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/me/totp',
      {
        config: { session: true },
        schema: {
          tags: ['session'],
          summary: 'Start enrolling a second factor (TOTP): returns the secret and otpauth:// URI',
          description:
            'The factor is off until POST /v1/me/totp/confirm proves the app has it. Enrolling again before confirming replaces the pending secret.',
          response: responses({ 200: TotpEnrollment }),
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return users.enrollTotp(sessionOf(request));
      },
    );

    app.post(
      '/v1/me/totp/confirm',
      {
        config: { session: true },
        schema: {
          tags: ['session'],
          summary: 'Confirm the second factor with a code; sign-in then requires one',
          body: TotpCodeBody,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await users.confirmTotp(sessionOf(request), request.body.code);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/me/totp/disable',
      {
        config: { session: true },
        schema: {
          tags: ['session'],
          summary: 'Turn the second factor off, with a current code or your password',
          body: DisableTotpBody,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await users.disableTotp(sessionOf(request), request.body);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/users',
      {
        config: { scope: 'users:read' },
        schema: {
          tags: ['users'],
          summary: 'List the members of the workspace with their roles',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(MemberSchema) }),
        },
      },
      async (request) =>
        users.listMembers(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.get(
      '/v1/users/:id',
      {
        config: { scope: 'users:read' },
        schema: {
          tags: ['users'],
          summary: 'Get a member',
          params: IdParams,
          response: responses({ 200: MemberSchema }),
        },
      },
      async (request) => users.getMember(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/users/:id',
      {
        config: { scope: 'users:write' },
        schema: {
          tags: ['users'],
          summary: "Change a member's role",
          description:
            "Granting or taking away the owner role needs a signed-in owner. The last owner cannot be demoted (409 LAST_OWNER). Takes effect on the member's next request.",
          params: IdParams,
          body: ChangeRoleBody,
          response: responses({ 200: MemberSchema }),
        },
      },
      async (request) => users.changeRole(principalOf(request), request.params.id, request.body.role),
    );

    app.delete(
      '/v1/users/:id',
      {
        config: { scope: 'users:write' },
        schema: {
          tags: ['users'],
          summary: 'Remove a member from the workspace; their sessions in it end',
          description:
            'The account stays (it may belong to other workspaces). Removing an owner needs a signed-in owner; the last owner cannot be removed.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await users.removeMember(principalOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/invitations',
      {
        config: { scope: 'users:read' },
        schema: {
          tags: ['users'],
          summary: 'List invitations (never their tokens)',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(InvitationSchema) }),
        },
      },
      async (request) =>
        users.listInvitations(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/invitations',
      {
        config: { scope: 'users:write' },
        schema: {
          tags: ['users'],
          summary: 'Invite someone by email with a role; Herald emails them the accept link',
          description:
            "Emails the invitee the accept link (signed, single use, valid HERALD_INVITATION_DAYS days) from HERALD_SYSTEM_FROM_EMAIL through the workspace's default transport, and returns the link and its token (only here, never again). `email` says whether the email was sent; when it was not, the invitation still stands: pass the link on yourself or resend. Inviting as owner needs a signed-in owner.",
          body: CreateInvitationBody,
          response: responses({ 201: CreatedInvitationSchema }),
        },
      },
      async (request, reply) => {
        const created = await users.invite(principalOf(request), request.body);
        return reply.code(201).send(created);
      },
    );

    app.post(
      '/v1/invitations/:id/resend',
      {
        config: { scope: 'users:write' },
        schema: {
          tags: ['users'],
          summary: 'Email a pending invitation again',
          description:
            'Sends the same accept link again (the token is not returned). 409 INVITATION_NOT_PENDING for an accepted, revoked or expired invitation: invite anew instead.',
          params: IdParams,
          response: responses({ 200: ResentInvitationSchema }),
        },
      },
      async (request) => users.resendInvitation(principalOf(request).workspaceId, request.params.id),
    );

    app.get(
      '/v1/invitations/:id',
      {
        config: { scope: 'users:read' },
        schema: {
          tags: ['users'],
          summary: 'Get an invitation',
          params: IdParams,
          response: responses({ 200: InvitationSchema }),
        },
      },
      async (request) => users.getInvitation(principalOf(request).workspaceId, request.params.id),
    );

    app.delete(
      '/v1/invitations/:id',
      {
        config: { scope: 'users:write' },
        schema: {
          tags: ['users'],
          summary: 'Revoke a pending invitation',
          description: 'An accepted or already revoked invitation is returned unchanged.',
          params: IdParams,
          response: responses({ 200: InvitationSchema }),
        },
      },
      async (request) => users.revokeInvitation(principalOf(request).workspaceId, request.params.id),
    );

    app.post(
      '/v1/invitations/accept',
      {
        config: {
          public: true,
          rateLimit: {
            max: deps.loginRateLimitPerMinute,
            timeWindow: 60_000,
            keyGenerator: (request) => request.ip,
          },
        },
        schema: {
          tags: ['users'],
          summary: 'Accept an invitation: creates your account (with password) or adds the workspace to it',
          description:
            'The token from the accept URL is the credential, usable once. Without an account for the invited address, `password` is required. Sign in afterwards with POST /v1/session. (The accept URL itself is a page, GET/POST /invitations/accept, that does the same for a person.)',
          body: AcceptInvitationBody,
          response: responses({ 200: AcceptedInvitationSchema }),
        },
      },
      async (request) => users.acceptInvitation(request.body),
    );
  };
}
