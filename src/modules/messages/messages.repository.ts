import type { Db, MessageStatus, NewRow, Row } from '../../db/index.js';

export type MessageRow = Row<'messages'>;

/** Inserts a message; undefined when the workspace already has one with this idempotency key. */
export async function insertMessage(db: Db, row: NewRow<'messages'>): Promise<MessageRow | undefined> {
  return db
    .insertInto('messages')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing(),
    )
    .returningAll()
    .executeTakeFirst();
}

export async function findMessage(db: Db, workspaceId: string, id: string): Promise<MessageRow | undefined> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findByIdempotencyKey(
  db: Db,
  workspaceId: string,
  key: string,
): Promise<MessageRow | undefined> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

/** Records the outcome of a queued message; a message already finished is left as it is. */
export async function finish(
  db: Db,
  workspaceId: string,
  id: string,
  outcome: { status: Exclude<MessageStatus, 'queued'>; providerMessageId?: string; error?: string },
  now: Date,
): Promise<void> {
  await db
    .updateTable('messages')
    .set({
      status: outcome.status,
      provider_message_id: outcome.providerMessageId ?? null,
      error: outcome.error ?? null,
      updated_at: now,
      sent_at: outcome.status === 'sent' ? now : null,
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .execute();
}
