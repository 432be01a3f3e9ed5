import type { Db, NewRow, Row } from '../../db/index.js';

export type ConsentRecordRow = Row<'consent_records'>;

export async function insertConsentRecords(db: Db, rows: NewRow<'consent_records'>[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('consent_records').values(rows).execute();
}

export async function listConsentRecords(
  db: Db,
  workspaceId: string,
  contactId: string,
  page: { after: string | undefined; limit: number },
): Promise<ConsentRecordRow[]> {
  let query = db
    .selectFrom('consent_records')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('contact_id', '=', contactId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}
