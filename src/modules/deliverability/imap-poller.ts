import { ImapFlow } from 'imapflow';
import type { Logger } from 'pino';
import { parseReport } from '../bounces/index.js';
import { type DeliverabilityService, digest, type ImapMailboxConfig } from './deliverability.service.js';

/**
 * Reads bounce and complaint reports (and unsubscribe requests sent to
 * List-Unsubscribe mailto addresses) from each workspace's bounce mailbox
 * over IMAP. Every message is read like `POST /v1/inbound/raw` does, applied
 * with source `imap` and the digest of its bytes as dedup key (so reading it
 * again, after a crash between applying and moving, changes nothing), then
 * moved: reports to the processed folder, anything else to the unparsed
 * folder. Nothing is ever deleted, so a person can look at what Herald did
 * not understand. A mailbox that cannot be read is logged and retried at the
 * next poll.
 */

export interface MailboxResult {
  messages: number;
  processed: number;
  unparsed: number;
  /** Unsubscribe requests (mail to List-Unsubscribe mailto addresses) acted on. */
  unsubscribes: number;
  applied: number;
  duplicates: number;
}

export interface PollSummary extends MailboxResult {
  mailboxes: number;
  failed: number;
  /** Per failed mailbox: the workspace and a description without personal data. */
  errors: { workspace_id: string; error: string }[];
}

export interface ImapPollerDeps {
  deliverability: Pick<DeliverabilityService, 'imapMailboxes' | 'applyReport' | 'unsubscribeByMail'>;
  logger: Logger;
  /** Connection and greeting timeout (ms). */
  timeoutMs?: number;
  /** Messages read per mailbox and poll; the rest waits for the next poll. */
  batchSize?: number;
}

/** Folder settings use `/` between levels; imapflow joins them with the server's own delimiter. */
function folderPath(folder: string): string[] {
  return folder.split('/').filter((part) => part.length > 0);
}

/**
 * What went wrong, fit for a log line: error codes and the kind of failure,
 * never the server's free text (it can echo the user name) or a message's content.
 */
export function describeImapError(error: unknown): string {
  const e = error as { authenticationFailed?: boolean; code?: unknown; serverResponseCode?: unknown };
  if (e?.authenticationFailed) return 'authentication failed (check imap_user and imap_password)';
  if (typeof e?.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return `connection failed (${e.code})`;
  if (typeof e?.serverResponseCode === 'string') return `server refused (${e.serverResponseCode})`;
  if (error instanceof Error && error.name !== 'Error') return error.name;
  return error instanceof Error ? error.message.slice(0, 200) : 'unknown error';
}

export function createImapPoller(deps: ImapPollerDeps) {
  const { deliverability, logger } = deps;
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const batchSize = deps.batchSize ?? 500;

  async function pollMailbox(config: ImapMailboxConfig): Promise<MailboxResult> {
    const result: MailboxResult = {
      messages: 0,
      processed: 0,
      unparsed: 0,
      unsubscribes: 0,
      applied: 0,
      duplicates: 0,
    };
    const client = new ImapFlow({
      host: config.host,
      port: config.port,
      secure: config.tls === 'tls',
      // starttls: insist on the upgrade; none: never try it (a loopback server without TLS).
      doSTARTTLS: config.tls === 'starttls' ? true : config.tls === 'none' ? false : undefined,
      auth: { user: config.user, pass: config.password },
      logger: false,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs * 4,
    });
    // A dropped socket is emitted as an event as well as failing the pending command: keep it from crashing.
    let lastError: unknown;
    client.on('error', (error: unknown) => {
      lastError = error;
    });
    try {
      await client.connect();
      const processed = folderPath(config.processedFolder);
      const unparsed = folderPath(config.unparsedFolder);
      await client.mailboxCreate(processed);
      await client.mailboxCreate(unparsed);
      const lock = await client.getMailboxLock(folderPath(config.mailbox));
      try {
        const exists = client.mailbox ? client.mailbox.exists : 0;
        if (exists === 0) return result;
        // Every message, not only unseen ones: a report someone opened is still a report, and
        // read messages leave this folder, so "all" is what has not been handled yet.
        const messages = await client.fetchAll(`1:${Math.min(exists, batchSize)}`, {
          uid: true,
          source: true,
        });
        for (const message of messages) {
          result.messages++;
          const source = message.source;
          // Mail to a List-Unsubscribe mailto address (routed to this mailbox with the bounces): acted on,
          // then processed; one whose token is not valid here is left for a person in the unparsed folder.
          const unsubscribe =
            source && source.length > 0
              ? await deliverability.unsubscribeByMail(config.workspaceId, source)
              : undefined;
          if (unsubscribe) {
            const done = unsubscribe.outcome !== 'ignored';
            await moveOrThrow(client, message.uid, done ? processed : unparsed);
            if (done) {
              result.unsubscribes++;
              result.processed++;
            } else result.unparsed++;
            continue;
          }
          let parsed: ReturnType<typeof parseReport> | undefined;
          try {
            parsed = source && source.length > 0 ? parseReport(source) : undefined;
          } catch {
            parsed = undefined;
          }
          const isReport =
            parsed !== undefined &&
            parsed.kind !== 'unknown' &&
            parsed.kind !== 'auto_reply' &&
            parsed.recipients.length > 0;
          if (!parsed || !source || !isReport) {
            await moveOrThrow(client, message.uid, unparsed);
            result.unparsed++;
            continue;
          }
          // A database failure here throws: the message stays in the mailbox and is read again next poll.
          const applied = await deliverability.applyReport(config.workspaceId, parsed, 'imap', {
            rawDigest: digest(source),
          });
          for (const one of applied) {
            if (one.duplicate) result.duplicates++;
            else if (one.event_id) result.applied++;
          }
          await moveOrThrow(client, message.uid, processed);
          result.processed++;
        }
      } finally {
        lock.release();
      }
      return result;
    } catch (error) {
      // "Connection not available" after a dropped socket says less than the socket's own error.
      throw lastError ?? error;
    } finally {
      await client.logout().catch(() => client.close());
    }
  }

  async function moveOrThrow(client: ImapFlow, uid: number, folder: string[]): Promise<void> {
    const moved = await client.messageMove(String(uid), folder, { uid: true });
    if (!moved) throw new Error(`could not move a message to ${folder.join('/')}`);
  }

  return {
    /** One round over every enabled mailbox (or one workspace's); failures are counted, logged and left for the next poll. */
    async poll(workspaceId?: string): Promise<PollSummary> {
      const summary: PollSummary = {
        mailboxes: 0,
        failed: 0,
        messages: 0,
        processed: 0,
        unparsed: 0,
        unsubscribes: 0,
        applied: 0,
        duplicates: 0,
        errors: [],
      };
      for (const config of await deliverability.imapMailboxes(workspaceId)) {
        summary.mailboxes++;
        try {
          const r = await pollMailbox(config);
          summary.messages += r.messages;
          summary.processed += r.processed;
          summary.unparsed += r.unparsed;
          summary.unsubscribes += r.unsubscribes;
          summary.applied += r.applied;
          summary.duplicates += r.duplicates;
          if (r.messages > 0)
            logger.info({ workspaceId: config.workspaceId, ...r }, 'read the bounce mailbox');
        } catch (error) {
          const description = describeImapError(error);
          summary.failed++;
          summary.errors.push({ workspace_id: config.workspaceId, error: description });
          logger.warn(
            { workspaceId: config.workspaceId, err: description },
            'could not read the bounce mailbox; trying again at the next poll',
          );
        }
      }
      return summary;
    },
  };
}

export type ImapPoller = ReturnType<typeof createImapPoller>;
