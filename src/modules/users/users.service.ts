import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Db, isUniqueViolation, type Role } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { decryptSecret, encryptSecret, type SecretKeyring, sign } from '../../lib/secret-keys.js';
import type { Principal } from '../auth/index.js';
import { normalizeEmail } from '../contacts/index.js';
import type { WorkspaceService } from '../workspaces/index.js';
import type { InvitationEmailOutcome, InvitationMailer } from './invitation-mail.js';
import { createInvitationToken, verifyInvitationToken } from './invitation-token.js';
import { burnPasswordCheck, checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { isOwnerOnly, scopesOf } from './roles.js';
import { serializeSessionCookie } from './session-cookie.js';
import { generateTotpSecret, otpauthUri, verifyTotp } from './totp.js';
import * as repo from './users.repository.js';

export interface UserSettings {
  publicUrl: string;
  cookieSecure: boolean;
  sessionIdleMinutes: number;
  sessionMaxHours: number;
  passwordMinLength: number;
  loginMaxFailures: number;
  loginLockMinutes: number;
  invitationDays: number;
}

export interface SessionUser {
  id: string;
  email: string;
  totp_enabled: boolean;
}

/** A session just started: what the caller hands the browser. */
export interface StartedSession {
  /** The cookie value; only its hash is stored. */
  cookieValue: string;
  /** The whole Set-Cookie header value for it. */
  setCookie: string;
  /** Must accompany every write request made with the cookie (header X-CSRF-Token). */
  csrfToken: string;
  sessionId: string;
  expiresAt: Date;
  user: SessionUser;
  workspace: { id: string; name: string };
  role: Role;
}

/** Why a verified identity gets no session. */
export interface SessionRefusal {
  refused: 'unknown_user' | 'not_a_member' | 'account_locked';
  detail: string;
}

/** A request's session, resolved from its cookie. */
export interface AuthenticatedSession {
  principal: Principal;
  sessionId: string;
  userId: string;
  role: Role;
  csrfToken: string;
}

export interface Member {
  user_id: string;
  email: string;
  role: Role;
  totp_enabled: boolean;
  created_at: Date;
}

/** Why an invitation link cannot be used (the accept page words each its own way). */
export type InvitationProblem = 'forged' | 'gone' | 'used' | 'revoked' | 'expired';

/** A usable invitation as its accept page shows it. */
export interface InvitationOffer {
  email: string;
  role: Role;
  workspace: { id: string; name: string };
  expires_at: Date;
  /** An account with the address exists: accepting adds the workspace to it, no password asked. */
  account_exists: boolean;
  password_min_length: number;
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  status: 'pending' | 'accepted' | 'revoked' | 'expired';
  invited_by: string;
  created_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
  revoked_at: Date | null;
}

const COOKIE_PREFIX = 'hs_';
/** last_seen_at is written at most this often per session. */
const SEEN_RESOLUTION_MS = 60_000;
const TOTP_ISSUER = 'Herald';

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The address to look a sign-in up by: normalized as stored when it is valid, else as typed (it then matches nobody). */
function lookupEmail(input: string): string {
  const checked = normalizeEmail(input);
  return checked.ok ? checked.email : input.trim();
}

function checkedEmail(input: string, path = '/email'): string {
  const checked = normalizeEmail(input);
  if (!checked.ok)
    throw new DomainError('INVALID_EMAIL', checked.reason, [{ path, message: checked.reason }]);
  return checked.email;
}

export function createUserService(deps: {
  db: Db;
  clock: Clock;
  keyring: SecretKeyring;
  workspaces: Pick<WorkspaceService, 'get'>;
  /** Emails invitations; without one, none is emailed (the link is only returned). */
  mailer?: InvitationMailer | undefined;
  settings: UserSettings;
}) {
  const { db, clock, keyring, workspaces, settings } = deps;
  const idleMs = settings.sessionIdleMinutes * 60_000;
  const maxAgeMs = settings.sessionMaxHours * 3_600_000;

  const csrfTokenOf = (cookieValue: string) =>
    sign(keyring, 'csrf', cookieValue).subarray(0, 24).toString('base64url');
  const totpContext = (userId: string) => `users.totp:${userId}`;

  function lockedError(until: Date): DomainError {
    return new DomainError(
      'ACCOUNT_LOCKED',
      `The account is locked after too many failed sign-ins, until ${until.toISOString()}. Try again then; an admin cannot shorten it.`,
      [{ message: 'locked', locked_until: until.toISOString() }],
    );
  }

  async function startSession(input: {
    user: repo.UserRow;
    workspaceId: string;
    role: Role;
    ip: string | null;
    userAgent: string | null;
  }): Promise<StartedSession> {
    const workspace = await workspaces.get(input.workspaceId);
    const now = clock.now();
    const cookieValue = COOKIE_PREFIX + randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + maxAgeMs);
    const sessionId = uuidv7(now.getTime());
    await repo.insertSession(db, {
      id: sessionId,
      token_hash: sha256(cookieValue),
      user_id: input.user.id,
      workspace_id: input.workspaceId,
      created_at: now,
      last_seen_at: now,
      expires_at: expiresAt,
      ip: input.ip,
      user_agent: input.userAgent?.slice(0, 500) ?? null,
    });
    return {
      cookieValue,
      setCookie: serializeSessionCookie(cookieValue, {
        secure: settings.cookieSecure,
        maxAgeSeconds: maxAgeMs / 1000,
      }),
      csrfToken: csrfTokenOf(cookieValue),
      sessionId,
      expiresAt,
      user: toSessionUser(input.user),
      workspace: { id: workspace.id, name: workspace.name },
      role: input.role,
    };
  }

  /** The membership a sign-in lands in: the workspace asked for, or the user's first. */
  async function landingMembership(userId: string, workspaceId: string | undefined) {
    const membership = workspaceId
      ? await repo.findMembership(db, workspaceId, userId)
      : await repo.firstMembership(db, userId);
    return membership;
  }

  async function failLogin(user: repo.UserRow, error: DomainError): Promise<never> {
    const now = clock.now();
    const lockUntil = new Date(now.getTime() + settings.loginLockMinutes * 60_000);
    const after = await repo.recordFailedLogin(db, user.id, settings.loginMaxFailures, lockUntil);
    if (after.locked_until && after.locked_until > now) throw lockedError(after.locked_until);
    throw error;
  }

  /** Only a signed-in owner grants, changes or removes the owner role: an API key never does. */
  async function requireOwner(actor: Principal): Promise<void> {
    if (actor.actor.type === 'user') {
      const membership = await repo.findMembership(db, actor.workspaceId, actor.actor.id);
      if (membership?.role === 'owner') return;
    }
    throw new DomainError(
      'OWNER_REQUIRED',
      'Only an owner, signed in, may grant, change or remove the owner role (API keys and admins cannot).',
    );
  }

  async function getMember(workspaceId: string, userId: string): Promise<Member> {
    const row = await repo.findMember(db, workspaceId, userId);
    if (!row) throw new DomainError('USER_NOT_FOUND', `User ${userId} is not a member of this workspace`);
    return toMember(row);
  }

  function toInvitation(row: repo.InvitationRow): Invitation {
    const now = clock.now();
    const status = row.accepted_at
      ? 'accepted'
      : row.revoked_at
        ? 'revoked'
        : row.expires_at <= now
          ? 'expired'
          : 'pending';
    return {
      id: row.id,
      email: row.email,
      role: row.role,
      status,
      invited_by: row.invited_by,
      created_at: row.created_at,
      expires_at: row.expires_at,
      accepted_at: row.accepted_at,
      revoked_at: row.revoked_at,
    };
  }

  async function totpSecretOf(user: repo.UserRow): Promise<string | undefined> {
    return user.totp_secret ? decryptSecret(keyring, user.totp_secret, totpContext(user.id)) : undefined;
  }

  async function requireUser(userId: string): Promise<repo.UserRow> {
    const user = await repo.findUser(db, userId);
    if (!user) throw new DomainError('USER_NOT_FOUND', `User ${userId} does not exist`);
    return user;
  }

  /** Accepts a code of the user's confirmed secret once, or throws TOTP_INVALID. */
  async function consumeTotp(user: repo.UserRow, code: string): Promise<void> {
    const secret = await totpSecretOf(user);
    const step = secret ? verifyTotp(secret, code, clock.now(), user.totp_last_step) : undefined;
    if (step === undefined || !(await repo.claimTotpStep(db, user.id, step)))
      throw new DomainError(
        'TOTP_INVALID',
        'The second-factor code is wrong, expired or already used: enter the current code from your authenticator app.',
      );
  }

  function acceptUrlOf(workspaceId: string, invitationId: string): { token: string; accept_url: string } {
    const token = createInvitationToken(keyring, workspaceId, invitationId);
    return {
      token,
      accept_url: `${settings.publicUrl}/invitations/accept?token=${encodeURIComponent(token)}`,
    };
  }

  /** The inviting person's address, for the email; none when an API key (or a removed user) invited. */
  async function inviterEmail(invitedBy: string): Promise<string | undefined> {
    const [type, id] = invitedBy.split(':');
    if (type !== 'user' || !id) return undefined;
    return (await repo.findUser(db, id))?.email;
  }

  /** Emails the invitation; outside any transaction (the send waits on the network). */
  async function emailInvitation(row: repo.InvitationRow): Promise<InvitationEmailOutcome> {
    if (!deps.mailer) return { sent: false, error: 'Herald is not set up to send invitation emails' };
    const workspace = await workspaces.get(row.workspace_id);
    return deps.mailer.send({
      workspaceId: row.workspace_id,
      invitationId: row.id,
      to: row.email,
      workspaceName: workspace.name,
      role: row.role,
      acceptUrl: acceptUrlOf(row.workspace_id, row.id).accept_url,
      expiresAt: row.expires_at,
      invitedBy: await inviterEmail(row.invited_by),
    });
  }

  /** The invitation a token names while it may still be accepted, or why it may not. */
  async function usableInvitation(
    token: string,
  ): Promise<{ row: repo.InvitationRow } | { problem: InvitationProblem; why: string }> {
    const parsed = verifyInvitationToken(keyring, token);
    if (!parsed)
      return { problem: 'forged', why: 'the token is not one Herald issued (altered or cut short).' };
    const row = await repo.findInvitation(db, parsed.workspaceId, parsed.invitationId);
    if (!row) return { problem: 'gone', why: 'it no longer exists.' };
    if (row.accepted_at) return { problem: 'used', why: 'it was already used. Sign in instead.' };
    if (row.revoked_at) return { problem: 'revoked', why: 'it was revoked. Ask an admin for a new one.' };
    if (row.expires_at <= clock.now())
      return {
        problem: 'expired',
        why: `it expired at ${row.expires_at.toISOString()}. Ask an admin for a new one.`,
      };
    return { row };
  }

  return {
    /**
     * Creates a user with a membership (the CLI's first owner), or adds the
     * membership to the user with that address (their password is kept).
     */
    async createUser(input: {
      email: string;
      password: string;
      workspaceId: string;
      role: Role;
    }): Promise<{ user: SessionUser; role: Role; created: boolean }> {
      const email = checkedEmail(input.email);
      await workspaces.get(input.workspaceId);
      const now = clock.now();
      const existing = await repo.findUserByEmail(db, email);
      if (existing) {
        if (await repo.findMembership(db, input.workspaceId, existing.id))
          throw new DomainError('MEMBER_EXISTS', `${email} is already a member of this workspace`);
        await repo.insertMembership(db, {
          workspace_id: input.workspaceId,
          user_id: existing.id,
          role: input.role,
          created_at: now,
        });
        return { user: toSessionUser(existing), role: input.role, created: false };
      }
      checkPasswordPolicy(input.password, settings.passwordMinLength);
      const passwordHash = await hashPassword(input.password);
      const user = await db.transaction().execute(async (trx) => {
        const row = await repo.insertUser(trx, {
          id: uuidv7(now.getTime()),
          email,
          password_hash: passwordHash,
          password_changed_at: now,
          created_at: now,
        });
        await repo.insertMembership(trx, {
          workspace_id: input.workspaceId,
          user_id: row.id,
          role: input.role,
          created_at: now,
        });
        return row;
      });
      return { user: toSessionUser(user), role: input.role, created: true };
    },

    /** Password sign-in, with the second factor when the user has one. */
    async login(input: {
      email: string;
      password: string;
      totp?: string | undefined;
      workspaceId?: string | undefined;
      ip: string | null;
      userAgent: string | null;
    }): Promise<StartedSession> {
      const wrong = new DomainError('INVALID_CREDENTIALS', 'The email address or password is wrong.');
      const user = await repo.findUserByEmail(db, lookupEmail(input.email));
      if (!user) {
        await burnPasswordCheck(input.password);
        throw wrong;
      }
      const now = clock.now();
      if (user.locked_until && user.locked_until > now) throw lockedError(user.locked_until);
      if (!(await verifyPassword(user.password_hash, input.password))) await failLogin(user, wrong);
      if (user.totp_secret) {
        if (!input.totp)
          throw new DomainError(
            'TOTP_REQUIRED',
            'This account has a second factor: send the current code from your authenticator app as "totp".',
          );
        try {
          await consumeTotp(user, input.totp);
        } catch (error) {
          await failLogin(user, error as DomainError);
        }
      }
      if (user.failed_logins > 0 || user.locked_until)
        await repo.updateUser(db, user.id, { failed_logins: 0, locked_until: null });
      const membership = await landingMembership(user.id, input.workspaceId);
      if (!membership)
        throw new DomainError(
          'NOT_A_MEMBER',
          input.workspaceId
            ? `You are not a member of workspace ${input.workspaceId}: leave out workspace_id to sign in to your own.`
            : 'You are not a member of any workspace: ask an admin for an invitation.',
        );
      return startSession({
        user,
        workspaceId: membership.workspace_id,
        role: membership.role,
        ip: input.ip,
        userAgent: input.userAgent,
      });
    },

    /**
     * Starts a session for an identity another sign-in method verified (OIDC):
     * only for an existing member of the workspace, and not while the account
     * is locked. The password and second factor are not asked for.
     */
    async startSessionForVerifiedEmail(input: {
      workspaceId: string;
      email: string;
      ip: string | null;
      userAgent: string | null;
    }): Promise<StartedSession | SessionRefusal> {
      const user = await repo.findUserByEmail(db, lookupEmail(input.email));
      if (!user) return { refused: 'unknown_user', detail: `No Herald user has the address ${input.email}.` };
      if (user.locked_until && user.locked_until > clock.now())
        return {
          refused: 'account_locked',
          detail: `The account is locked until ${user.locked_until.toISOString()}.`,
        };
      const membership = await repo.findMembership(db, input.workspaceId, user.id);
      if (!membership)
        return { refused: 'not_a_member', detail: 'The user is not a member of this workspace.' };
      return startSession({
        user,
        workspaceId: input.workspaceId,
        role: membership.role,
        ip: input.ip,
        userAgent: input.userAgent,
      });
    },

    /** Resolves a session cookie; undefined when unknown, revoked, expired, idle too long or no longer a member. */
    async authenticate(cookieValue: string): Promise<AuthenticatedSession | undefined> {
      if (!cookieValue.startsWith(COOKIE_PREFIX) || cookieValue.length > 100) return undefined;
      const row = await repo.findSessionByHash(db, sha256(cookieValue));
      if (!row?.role) return undefined;
      const now = clock.now();
      if (row.expires_at <= now || row.last_seen_at.getTime() + idleMs <= now.getTime()) return undefined;
      const staleBefore = new Date(now.getTime() - SEEN_RESOLUTION_MS);
      if (row.last_seen_at < staleBefore) await repo.touchSession(db, row.id, now, staleBefore);
      return {
        principal: {
          workspaceId: row.workspace_id,
          actor: { type: 'user', id: row.user_id },
          scopes: scopesOf(row.role),
        },
        sessionId: row.id,
        userId: row.user_id,
        role: row.role,
        csrfToken: csrfTokenOf(cookieValue),
      };
    },

    /** Does a presented CSRF token belong to the session? */
    csrfMatches(session: AuthenticatedSession, presented: string | undefined): boolean {
      return presented !== undefined && sameText(session.csrfToken, presented);
    },

    /** The session as GET /v1/session shows it. */
    async describe(session: AuthenticatedSession) {
      const user = await requireUser(session.userId);
      const workspace = await workspaces.get(session.principal.workspaceId);
      const memberships = await repo.userWorkspaces(db, session.userId);
      const all = await Promise.all(
        memberships.map(async (m) => ({
          id: m.workspace_id,
          name: (await workspaces.get(m.workspace_id)).name,
          role: m.role,
        })),
      );
      return {
        user: toSessionUser(user),
        workspace: { id: workspace.id, name: workspace.name },
        role: session.role,
        scopes: session.principal.scopes,
        csrf_token: session.csrfToken,
        workspaces: all,
      };
    },

    async logout(sessionId: string): Promise<void> {
      await repo.revokeSession(db, sessionId, clock.now());
    },

    /** Moves the session to another workspace the user belongs to. */
    async switchWorkspace(session: AuthenticatedSession, workspaceId: string): Promise<AuthenticatedSession> {
      const membership = await repo.findMembership(db, workspaceId, session.userId);
      if (!membership)
        throw new DomainError('NOT_A_MEMBER', `You are not a member of workspace ${workspaceId}.`, [
          { path: '/workspace_id', message: 'not a member' },
        ]);
      await repo.setSessionWorkspace(db, session.sessionId, workspaceId);
      return {
        ...session,
        role: membership.role,
        principal: { ...session.principal, workspaceId, scopes: scopesOf(membership.role) },
      };
    },

    /** Changes the password and ends every other session of the user. */
    async changePassword(session: AuthenticatedSession, current: string, next: string): Promise<void> {
      const user = await requireUser(session.userId);
      if (!(await verifyPassword(user.password_hash, current)))
        throw new DomainError('INVALID_CREDENTIALS', 'The current password is wrong.', [
          { path: '/current_password', message: 'wrong' },
        ]);
      checkPasswordPolicy(next, settings.passwordMinLength, '/new_password');
      const now = clock.now();
      const hash = await hashPassword(next);
      await db.transaction().execute(async (trx) => {
        await repo.updateUser(trx, user.id, { password_hash: hash, password_changed_at: now });
        await repo.revokeUserSessions(trx, user.id, now, session.sessionId);
      });
    },

    /**
     * `herald keys rewrap`'s part for users: TOTP secrets stay encrypted with
     * the master keyring (a user is not tied to one workspace, so no workspace
     * data key fits), so after a new master key is put first every secret
     * still under an older one is re-encrypted under it. Resumable; a secret
     * that fails to decrypt is listed by user id and left as it is.
     */
    async reencryptTotpSecrets(
      options: { batchSize?: number | undefined } = {},
    ): Promise<{ reencrypted: number; failed: { id: string; error: string }[] }> {
      const batchSize = options.batchSize ?? 500;
      let reencrypted = 0;
      const failed: { id: string; error: string }[] = [];
      for (const column of ['totp_secret', 'totp_pending_secret'] as const) {
        let after: string | null = null;
        for (;;) {
          const rows = await repo.pageTotpSecretsNotUnder(db, column, keyring.current.id, after, batchSize);
          for (const row of rows) {
            let next: string;
            try {
              const context = totpContext(row.id);
              next = encryptSecret(keyring, decryptSecret(keyring, row.value, context), context);
            } catch (error) {
              failed.push({ id: row.id, error: (error as Error).message });
              continue;
            }
            if (await repo.replaceTotpSecret(db, column, row.id, row.value, next)) reencrypted++;
          }
          const last = rows.at(-1);
          if (!last || rows.length < batchSize) break;
          after = last.id;
        }
      }
      return { reencrypted, failed };
    },

    /** Starts enrolling a second factor: a new secret, pending until a code confirms it. */
    async enrollTotp(session: AuthenticatedSession): Promise<{ secret: string; otpauth_uri: string }> {
      const user = await requireUser(session.userId);
      if (user.totp_secret)
        throw new DomainError(
          'TOTP_STATE',
          'A second factor is already on: disable it first (POST /v1/me/totp/disable) to enroll a new one.',
        );
      const secret = generateTotpSecret();
      await repo.updateUser(db, user.id, {
        totp_pending_secret: encryptSecret(keyring, secret, totpContext(user.id)),
      });
      return { secret, otpauth_uri: otpauthUri(secret, user.email, TOTP_ISSUER) };
    },

    /** Turns the second factor on once a code from the pending secret proves the app has it. */
    async confirmTotp(session: AuthenticatedSession, code: string): Promise<void> {
      const user = await requireUser(session.userId);
      if (user.totp_secret) throw new DomainError('TOTP_STATE', 'The second factor is already on.');
      if (!user.totp_pending_secret)
        throw new DomainError('TOTP_STATE', 'Nothing to confirm: start with POST /v1/me/totp.');
      const secret = decryptSecret(keyring, user.totp_pending_secret, totpContext(user.id));
      const step = verifyTotp(secret, code, clock.now());
      if (step === undefined)
        throw new DomainError(
          'TOTP_INVALID',
          'The code does not match the new secret: check the authenticator app and the device clock.',
          [{ path: '/code', message: 'wrong code' }],
        );
      await repo.updateUser(db, user.id, {
        totp_secret: user.totp_pending_secret,
        totp_pending_secret: null,
        // The confirming code counts as used.
        totp_last_step: step,
      });
    },

    /** Turns the second factor off; proven by a current code or the password. */
    async disableTotp(
      session: AuthenticatedSession,
      proof: { code?: string | undefined; password?: string | undefined },
    ): Promise<void> {
      const user = await requireUser(session.userId);
      if (!user.totp_secret) throw new DomainError('TOTP_STATE', 'The second factor is not on.');
      if (proof.code) await consumeTotp(user, proof.code);
      else if (proof.password) {
        if (!(await verifyPassword(user.password_hash, proof.password)))
          throw new DomainError('INVALID_CREDENTIALS', 'The password is wrong.', [
            { path: '/password', message: 'wrong' },
          ]);
      } else
        throw new DomainError(
          'VALIDATION_FAILED',
          'Send a current code ("code") or your password ("password").',
          [{ path: '', message: 'code or password required' }],
        );
      await repo.updateUser(db, user.id, {
        totp_secret: null,
        totp_pending_secret: null,
        totp_last_step: null,
      });
    },

    async listMembers(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Member>> {
      const rows = await repo.listMembers(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const more = rows.length > page.limit;
      const data = rows.slice(0, page.limit).map(toMember);
      const last = data.at(-1);
      return { data, next_cursor: more && last ? encodeCursor(last.user_id) : null };
    },

    getMember,

    /** Changes a member's role; owner changes need an owner, and the last owner stays one. */
    async changeRole(actor: Principal, userId: string, role: Role): Promise<Member> {
      const target = await getMember(actor.workspaceId, userId);
      if (isOwnerOnly({ from: target.role, to: role })) await requireOwner(actor);
      await db.transaction().execute(async (trx) => {
        const owners = await repo.lockOwners(trx, actor.workspaceId);
        if (target.role === 'owner' && role !== 'owner' && owners.length <= 1)
          throw new DomainError(
            'LAST_OWNER',
            "This is the workspace's last owner: make another member owner first.",
          );
        await repo.setRole(trx, actor.workspaceId, userId, role);
      });
      return getMember(actor.workspaceId, userId);
    },

    /** Removes a member and ends their sessions in this workspace. */
    async removeMember(actor: Principal, userId: string): Promise<void> {
      const target = await getMember(actor.workspaceId, userId);
      if (target.role === 'owner') await requireOwner(actor);
      const now = clock.now();
      await db.transaction().execute(async (trx) => {
        const owners = await repo.lockOwners(trx, actor.workspaceId);
        if (target.role === 'owner' && owners.length <= 1)
          throw new DomainError(
            'LAST_OWNER',
            "This is the workspace's last owner and cannot be removed: make another member owner first.",
          );
        await repo.deleteMembership(trx, actor.workspaceId, userId);
        await repo.revokeWorkspaceSessions(trx, actor.workspaceId, userId, now);
      });
    },

    /**
     * Invites an address with a role and emails it the accept link. The token
     * in the link is the credential, returned once, also when the email could
     * not be sent (the invitation stands; the link can be passed on by hand).
     */
    async invite(
      actor: Principal,
      input: { email: string; role: Role },
    ): Promise<{ invitation: Invitation; token: string; accept_url: string; email: InvitationEmailOutcome }> {
      const email = checkedEmail(input.email);
      if (isOwnerOnly({ to: input.role })) await requireOwner(actor);
      const existing = await repo.findUserByEmail(db, email);
      if (existing && (await repo.findMembership(db, actor.workspaceId, existing.id)))
        throw new DomainError('MEMBER_EXISTS', `${email} is already a member of this workspace`, [
          { path: '/email', message: 'already a member' },
        ]);
      const now = clock.now();
      const row = await repo.insertInvitation(db, {
        id: uuidv7(now.getTime()),
        workspace_id: actor.workspaceId,
        email,
        role: input.role,
        invited_by: `${actor.actor.type}:${actor.actor.id}`,
        created_at: now,
        expires_at: new Date(now.getTime() + settings.invitationDays * 86_400_000),
      });
      const sent = await emailInvitation(row);
      return { invitation: toInvitation(row), ...acceptUrlOf(actor.workspaceId, row.id), email: sent };
    },

    /** Emails a pending invitation again (same link); the token is not returned. */
    async resendInvitation(
      workspaceId: string,
      id: string,
    ): Promise<{ invitation: Invitation; email: InvitationEmailOutcome }> {
      const row = await repo.findInvitation(db, workspaceId, id);
      if (!row)
        throw new DomainError('INVITATION_NOT_FOUND', `Invitation ${id} does not exist in this workspace`);
      const invitation = toInvitation(row);
      if (invitation.status !== 'pending')
        throw new DomainError(
          'INVITATION_NOT_PENDING',
          `Invitation ${id} is ${invitation.status}: only a pending invitation is emailed again. Invite the address anew (POST /v1/invitations) instead.`,
        );
      return { invitation, email: await emailInvitation(row) };
    },

    /** For the accept page: what the invitation offers, or why it cannot be used. Changes nothing. */
    async describeInvitation(token: string): Promise<InvitationOffer | { problem: InvitationProblem }> {
      const usable = await usableInvitation(token);
      if ('problem' in usable) return { problem: usable.problem };
      const { row } = usable;
      const workspace = await workspaces.get(row.workspace_id);
      return {
        email: row.email,
        role: row.role,
        workspace: { id: workspace.id, name: workspace.name },
        expires_at: row.expires_at,
        account_exists: (await repo.findUserByEmail(db, row.email)) !== undefined,
        password_min_length: settings.passwordMinLength,
      };
    },

    async listInvitations(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Invitation>> {
      const rows = await repo.listInvitations(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const more = rows.length > page.limit;
      const data = rows.slice(0, page.limit).map(toInvitation);
      const last = data.at(-1);
      return { data, next_cursor: more && last ? encodeCursor(last.id) : null };
    },

    async getInvitation(workspaceId: string, id: string): Promise<Invitation> {
      const row = await repo.findInvitation(db, workspaceId, id);
      if (!row)
        throw new DomainError('INVITATION_NOT_FOUND', `Invitation ${id} does not exist in this workspace`);
      return toInvitation(row);
    },

    /** Revokes a pending invitation; one already accepted or revoked is reported as it is. */
    async revokeInvitation(workspaceId: string, id: string): Promise<Invitation> {
      const revoked = await repo.revokeInvitation(db, workspaceId, id, clock.now());
      if (revoked) return toInvitation(revoked);
      return this.getInvitation(workspaceId, id);
    },

    /**
     * Accepts an invitation: creates the user (a password is then required)
     * or adds the membership to the user that has the address. Single use.
     */
    async acceptInvitation(input: {
      token: string;
      password?: string | undefined;
      /**
       * Sign the person in when the account is new (they just chose its
       * password, as a sign-in would prove). An existing account is never
       * signed in by a link: its owner signs in with their own password.
       */
      signIn?: { ip: string | null; userAgent: string | null } | undefined;
    }): Promise<{
      user: SessionUser;
      workspace: { id: string; name: string };
      role: Role;
      created: boolean;
      session?: StartedSession | undefined;
    }> {
      const invalid = (why: string, problem?: InvitationProblem) =>
        new DomainError('INVITATION_INVALID', `This invitation cannot be used: ${why}`, [
          { path: '/token', message: why, ...(problem ? { problem } : {}) },
        ]);
      const usable = await usableInvitation(input.token);
      if ('problem' in usable) throw invalid(usable.why, usable.problem);
      const { row } = usable;
      const now = clock.now();
      const existing = await repo.findUserByEmail(db, row.email);
      let passwordHash: string | undefined;
      if (!existing) {
        if (input.password === undefined)
          throw new DomainError(
            'VALIDATION_FAILED',
            `Choose a password for the new account of ${row.email} (at least ${settings.passwordMinLength} characters).`,
            [{ path: '/password', message: 'required for a new account' }],
          );
        checkPasswordPolicy(input.password, settings.passwordMinLength);
        passwordHash = await hashPassword(input.password);
      }
      const workspace = await workspaces.get(row.workspace_id);
      try {
        const user = await db.transaction().execute(async (trx) => {
          const claimed = await repo.claimInvitation(trx, row.workspace_id, row.id, now);
          if (!claimed) throw invalid('it was already used. Sign in instead.', 'used');
          const user =
            existing ??
            (await repo.insertUser(trx, {
              id: uuidv7(now.getTime()),
              email: row.email,
              password_hash: passwordHash as string,
              password_changed_at: now,
              created_at: now,
            }));
          await repo.insertMembership(trx, {
            workspace_id: row.workspace_id,
            user_id: user.id,
            role: row.role,
            created_at: now,
          });
          await repo.setInvitationAcceptedBy(trx, row.id, user.id);
          return user;
        });
        const membership = await repo.findMembership(db, row.workspace_id, user.id);
        const role = membership?.role ?? row.role;
        const session =
          input.signIn && !existing
            ? await startSession({ user, workspaceId: row.workspace_id, role, ...input.signIn })
            : undefined;
        return {
          user: toSessionUser(user),
          workspace: { id: workspace.id, name: workspace.name },
          role,
          created: !existing,
          ...(session ? { session } : {}),
        };
      } catch (error) {
        if (isUniqueViolation(error))
          throw invalid('an account with this address was created meanwhile: try again to join with it.');
        throw error;
      }
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;

function toSessionUser(row: repo.UserRow): SessionUser {
  return { id: row.id, email: row.email, totp_enabled: row.totp_secret !== null };
}

function toMember(row: repo.MemberRow): Member {
  return {
    user_id: row.user_id,
    email: row.email,
    role: row.role,
    totp_enabled: row.totp_enabled,
    created_at: row.created_at,
  };
}
