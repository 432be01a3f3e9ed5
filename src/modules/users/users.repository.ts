import { sql } from 'kysely';
import type { Db, Role, Row } from '../../db/index.js';

export type UserRow = Row<'users'>;
export type MembershipRow = Row<'memberships'>;
export type SessionRow = Row<'sessions'>;
export type InvitationRow = Row<'invitations'>;

// Users are identities across workspaces: looked up by id or sign-in address, never listed unscoped.

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email_key', '=', email.toLowerCase()).executeTakeFirst();
}

export async function findUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertUser(
  db: Db,
  row: Pick<UserRow, 'id' | 'email' | 'password_hash' | 'password_changed_at' | 'created_at'>,
): Promise<UserRow> {
  return db.insertInto('users').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateUser(
  db: Db,
  id: string,
  patch: Partial<
    Pick<
      UserRow,
      | 'password_hash'
      | 'password_changed_at'
      | 'totp_secret'
      | 'totp_pending_secret'
      | 'totp_last_step'
      | 'failed_logins'
      | 'locked_until'
    >
  >,
): Promise<void> {
  await db.updateTable('users').set(patch).where('id', '=', id).execute();
}

/** The two columns holding an encrypted TOTP secret (the confirmed one and the one being enrolled). */
export type TotpColumn = 'totp_secret' | 'totp_pending_secret';

/**
 * A page of TOTP secrets (of every user: users belong to no one workspace) not
 * encrypted with the master key `keyId`, in id order, for `herald keys rewrap`.
 */
export async function pageTotpSecretsNotUnder(
  db: Db,
  column: TotpColumn,
  keyId: string,
  afterId: string | null,
  limit: number,
): Promise<{ id: string; value: string }[]> {
  let query = db
    .selectFrom('users')
    .select(['id', `${column} as value`])
    .where(column, 'is not', null)
    // starts_with, not LIKE: key ids may contain `_`.
    .where(sql<boolean>`NOT starts_with(${sql.ref(column)}, ${`v1.${keyId}.`})`);
  if (afterId !== null) query = query.where('id', '>', afterId);
  const rows = await query.orderBy('id').limit(limit).execute();
  return rows.flatMap((row) => (row.value === null ? [] : [{ id: row.id, value: row.value }]));
}

/** Writes a re-encrypted TOTP secret only if the user still holds `previous` (a concurrent enrolment wins). */
export async function replaceTotpSecret(
  db: Db,
  column: TotpColumn,
  id: string,
  previous: string,
  next: string,
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ [column]: next })
    .where('id', '=', id)
    .where(column, '=', previous)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Counts a failed sign-in and locks the account when it reaches `maxFailures`,
 * in one statement, so concurrent attempts cannot slip past the limit.
 */
export async function recordFailedLogin(
  db: Db,
  id: string,
  maxFailures: number,
  lockUntil: Date,
): Promise<{ failed_logins: number; locked_until: Date | null }> {
  return db
    .updateTable('users')
    .set({
      failed_logins: sql<number>`CASE WHEN failed_logins + 1 >= ${maxFailures} THEN 0 ELSE failed_logins + 1 END`,
      locked_until: sql<Date | null>`CASE WHEN failed_logins + 1 >= ${maxFailures} THEN ${lockUntil}::timestamptz ELSE locked_until END`,
    })
    .where('id', '=', id)
    .returning(['failed_logins', 'locked_until'])
    .executeTakeFirstOrThrow();
}

/** Accepts a TOTP step only if it is later than the last accepted one (one use per code). */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ totp_last_step: step })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

// Memberships: always by workspace.

export async function findMembership(
  db: Db,
  workspaceId: string,
  userId: string,
): Promise<MembershipRow | undefined> {
  return db
    .selectFrom('memberships')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** The user's oldest membership: the workspace a sign-in without workspace_id lands in. */
export async function firstMembership(db: Db, userId: string): Promise<MembershipRow | undefined> {
  return db
    .selectFrom('memberships')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('workspace_id')
    .limit(1)
    .executeTakeFirst();
}

export async function userWorkspaces(
  db: Db,
  userId: string,
): Promise<{ workspace_id: string; role: Role }[]> {
  return db
    .selectFrom('memberships')
    .select(['workspace_id', 'role'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('workspace_id')
    .execute();
}

export async function insertMembership(db: Db, row: MembershipRow): Promise<void> {
  await db
    .insertInto('memberships')
    .values(row)
    .onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing())
    .execute();
}

export async function setRole(db: Db, workspaceId: string, userId: string, role: Role): Promise<void> {
  await db
    .updateTable('memberships')
    .set({ role })
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .execute();
}

export async function deleteMembership(db: Db, workspaceId: string, userId: string): Promise<void> {
  await db
    .deleteFrom('memberships')
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .execute();
}

/** Locks the workspace's owner memberships, so two demotions cannot both leave it without an owner. */
export async function lockOwners(db: Db, workspaceId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships')
    .select('user_id')
    .where('workspace_id', '=', workspaceId)
    .where('role', '=', 'owner')
    .forUpdate()
    .execute();
  return rows.map((r) => r.user_id);
}

export interface MemberRow {
  user_id: string;
  email: string;
  role: Role;
  created_at: Date;
  totp_enabled: boolean;
}

export async function listMembers(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<MemberRow[]> {
  let query = db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select([
      'memberships.user_id',
      'users.email',
      'memberships.role',
      'memberships.created_at',
      sql<boolean>`users.totp_secret IS NOT NULL`.as('totp_enabled'),
    ])
    .where('memberships.workspace_id', '=', workspaceId);
  if (page.after) query = query.where('memberships.user_id', '>', page.after);
  return query
    .orderBy('memberships.user_id')
    .limit(page.limit + 1)
    .execute();
}

export async function findMember(
  db: Db,
  workspaceId: string,
  userId: string,
): Promise<MemberRow | undefined> {
  return db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select([
      'memberships.user_id',
      'users.email',
      'memberships.role',
      'memberships.created_at',
      sql<boolean>`users.totp_secret IS NOT NULL`.as('totp_enabled'),
    ])
    .where('memberships.workspace_id', '=', workspaceId)
    .where('memberships.user_id', '=', userId)
    .executeTakeFirst();
}

// Sessions.

export async function insertSession(db: Db, row: Omit<SessionRow, 'revoked_at'>): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

export interface ActiveSession {
  id: string;
  user_id: string;
  workspace_id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  email: string;
  /** Null when the user is no longer a member of the session's workspace. */
  role: Role | null;
}

/** The session a cookie names, with its user's current role in its workspace (roles apply at once). */
export async function findSessionByHash(db: Db, tokenHash: string): Promise<ActiveSession | undefined> {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .leftJoin('memberships', (join) =>
      join
        .onRef('memberships.user_id', '=', 'sessions.user_id')
        .onRef('memberships.workspace_id', '=', 'sessions.workspace_id'),
    )
    .select([
      'sessions.id',
      'sessions.user_id',
      'sessions.workspace_id',
      'sessions.created_at',
      'sessions.last_seen_at',
      'sessions.expires_at',
      'users.email',
      'memberships.role',
    ])
    .where('sessions.token_hash', '=', tokenHash)
    .where('sessions.revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Records activity at most once per resolution, so reads do not each write. */
export async function touchSession(db: Db, id: string, at: Date, staleBefore: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_seen_at: at })
    .where('id', '=', id)
    .where('last_seen_at', '<', staleBefore)
    .execute();
}

export async function setSessionWorkspace(db: Db, id: string, workspaceId: string): Promise<void> {
  await db.updateTable('sessions').set({ workspace_id: workspaceId }).where('id', '=', id).execute();
}

export async function revokeSession(db: Db, id: string, at: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Ends every session of a user, except the one named (the one that changed the password). */
export async function revokeUserSessions(db: Db, userId: string, at: Date, except?: string): Promise<void> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: at })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (except) query = query.where('id', '!=', except);
  await query.execute();
}

/** Ends a user's sessions in one workspace (they were removed from it). */
export async function revokeWorkspaceSessions(
  db: Db,
  workspaceId: string,
  userId: string,
  at: Date,
): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}

// Invitations: always by workspace, except accepting, which the signed token authorizes.

export async function insertInvitation(
  db: Db,
  row: Omit<InvitationRow, 'accepted_at' | 'accepted_by' | 'revoked_at'>,
): Promise<InvitationRow> {
  return db.insertInto('invitations').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findInvitation(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<InvitationRow | undefined> {
  return db
    .selectFrom('invitations')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function listInvitations(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<InvitationRow[]> {
  let query = db.selectFrom('invitations').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function revokeInvitation(
  db: Db,
  workspaceId: string,
  id: string,
  at: Date,
): Promise<InvitationRow | undefined> {
  return db
    .updateTable('invitations')
    .set({ revoked_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .where('accepted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** Marks an invitation used, once: the second of two concurrent accepts gets nothing back. */
export async function claimInvitation(
  db: Db,
  workspaceId: string,
  id: string,
  at: Date,
): Promise<InvitationRow | undefined> {
  return db
    .updateTable('invitations')
    .set({ accepted_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', at)
    .returningAll()
    .executeTakeFirst();
}

export async function setInvitationAcceptedBy(db: Db, id: string, userId: string): Promise<void> {
  await db.updateTable('invitations').set({ accepted_by: userId }).where('id', '=', id).execute();
}
