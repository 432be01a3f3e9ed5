import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import { type JobQueue, PermanentJobError } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { isDomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { SecretKeyring } from '../../lib/secret-keys.js';
import { createToken, verifyToken } from '../../lib/signed-tokens.js';
import type { ConsentOrigin } from '../consent/index.js';
import type { ContactService } from '../contacts/index.js';
import type { ListService } from '../lists/index.js';
import { type MailPort, SUPPRESSED_STATUSES } from '../messages/index.js';
import type {
  PreparedTemplate,
  RenderContext,
  TemplateCompiler,
  TemplateService,
} from '../templates/index.js';
import type { WorkspaceService } from '../workspaces/index.js';

export const CONFIRMATION_TASK = 'lists.confirmation';
export const CONFIRM_TOKEN_TTL_MS = 7 * 24 * 3_600_000;

const DEFAULT_SUBJECT = 'Please confirm your subscription to {{ list.name }}';
const DEFAULT_TEXT = 'Please confirm your subscription to {{ list.name }}: {{ confirm_url }}';
const DEFAULT_HTML =
  '<p>Please confirm your subscription to {{ list.name }}: <a href="{{ confirm_url }}">{{ confirm_url }}</a></p>';

/**
 * Queues one confirmation email per contact, in the caller's transaction (the
 * lists service's `onUnconfirmedSubscribed` hook). The key is list+contact, so
 * a contact is asked once per list however often it is re-added.
 */
export async function enqueueConfirmations(
  jobs: Pick<JobQueue, 'enqueueMany'>,
  trx: Db,
  workspaceId: string,
  listId: string,
  contactIds: string[],
): Promise<void> {
  const CHUNK = 1000;
  for (let i = 0; i < contactIds.length; i += CHUNK) {
    await jobs.enqueueMany(
      CONFIRMATION_TASK,
      contactIds.slice(i, i + CHUNK).map((contactId) => ({
        payload: { workspaceId, listId, contactId },
        idempotencyKey: `${listId}:${contactId}`,
      })),
      { workspaceId },
      trx,
    );
  }
}

export type ConfirmOutcome = 'confirmed' | 'already_confirmed' | 'invalid';

/**
 * What double opt-in needs from the suppression list (the deliverability
 * service). A confirmation is asked for, but it is the first email to an
 * address nobody has verified: it goes only where transactional mail may go
 * (every reason but `sunset` stops it: a hard bounce, a complaint, a manual
 * entry, repeated soft bounces).
 */
export interface ConfirmationSuppressions {
  suppressionFor(
    workspaceId: string,
    email: string,
    kind: 'transactional',
  ): Promise<{ reason: string } | undefined>;
  /** Removes a `sunset` entry, recording why; true when there was one. */
  liftSunset(workspaceId: string, email: string, reason: string): Promise<boolean>;
}

export interface ConfirmationServiceDeps {
  keyring: SecretKeyring;
  publicUrl: string;
  clock: Clock;
  logger: Logger;
  lists: Pick<ListService, 'get' | 'confirmMembers'>;
  contacts: Pick<ContactService, 'get' | 'update'>;
  templates: Pick<TemplateService, 'latestVersionId' | 'compileForSend'>;
  compiler: Pick<TemplateCompiler, 'compile' | 'prepare'>;
  workspaces: Pick<WorkspaceService, 'get'>;
  mail: MailPort;
  suppressions: ConfirmationSuppressions;
}

/** Double opt-in: the confirmation email with its signed, expiring link, and confirming by that link. */
export function createConfirmationService(deps: ConfirmationServiceDeps) {
  const { keyring, clock, logger, lists, contacts, mail } = deps;
  const base = deps.publicUrl.replace(/\/+$/, '');
  let builtIn: Promise<PreparedTemplate> | undefined;

  function defaultTemplate(): Promise<PreparedTemplate> {
    builtIn ??= deps.compiler
      .compile(
        {
          format: 'html',
          subject: DEFAULT_SUBJECT,
          preheader: null,
          body: DEFAULT_HTML,
          text_body: DEFAULT_TEXT,
        },
        new Map(),
      )
      .then((artefacts) =>
        deps.compiler.prepare(
          {
            subject: DEFAULT_SUBJECT,
            body: DEFAULT_HTML,
            preheader: null,
            compiled_html: artefacts.html,
            compiled_text: artefacts.text,
            text_body: DEFAULT_TEXT,
            snippets: {},
          },
          { strictVariables: false },
        ),
      );
    return builtIn;
  }

  /** The token's ids, when it is a valid, unexpired confirm token naming a workspace, list and contact. */
  function read(token: string) {
    const payload = verifyToken(keyring, 'confirm', token, clock.now());
    if (!payload?.workspaceId || !payload.listId || !payload.contactId) return undefined;
    return { workspaceId: payload.workspaceId, listId: payload.listId, contactId: payload.contactId };
  }

  function confirmUrl(workspaceId: string, listId: string, contactId: string): string {
    const token = createToken(
      keyring,
      'confirm',
      { workspaceId, contactId, listId },
      { expiresAt: new Date(clock.now().getTime() + CONFIRM_TOKEN_TTL_MS) },
    );
    return `${base}/confirm/${token}`;
  }

  return {
    confirmUrl,

    /** The `lists.confirmation` job: sends the confirmation email, unless the member no longer waits for one. */
    async sendConfirmation(workspaceId: string, listId: string, contactId: string): Promise<void> {
      let list: Awaited<ReturnType<typeof lists.get>>;
      let contact: Awaited<ReturnType<typeof contacts.get>>;
      try {
        [list, contact] = await Promise.all([
          lists.get(workspaceId, listId),
          contacts.get(workspaceId, contactId),
        ]);
      } catch (error) {
        if (isDomainError(error) && error.status === 404) return; // list or contact deleted since
        throw error;
      }
      const membership = contact.lists.find((m) => m.list_id === listId);
      if (list.opt_in !== 'double' || membership?.status !== 'unconfirmed') return;
      // Not sent, and nothing to retry: the job succeeds and the log line says why (ids, never the address).
      // The membership stays unconfirmed; GET /v1/suppressions shows the entry.
      const skipped = (reason: Record<string, string>) =>
        logger.info(
          {
            workspace_id: workspaceId,
            list_id: listId,
            contact_id: contactId,
            outcome: 'not_sent',
            ...reason,
          },
          'confirmation email not sent: the address may not be mailed',
        );
      if (SUPPRESSED_STATUSES.includes(contact.status)) return skipped({ contact_status: contact.status });
      const suppression = await deps.suppressions.suppressionFor(workspaceId, contact.email, 'transactional');
      if (suppression) return skipped({ suppression_reason: suppression.reason });
      if (!list.confirmation_from_email) {
        logger.warn(
          { workspace_id: workspaceId, list_id: listId },
          'double opt-in list has no confirmation_from_email: confirmation email not sent',
        );
        throw new PermanentJobError(
          `list ${listId} has no confirmation_from_email: set one (PATCH /v1/lists/${listId}) so confirmation emails can be sent`,
        );
      }
      let template: PreparedTemplate;
      const versionId = list.confirmation_template_id
        ? await deps.templates.latestVersionId(workspaceId, list.confirmation_template_id)
        : undefined;
      if (versionId) template = await deps.templates.compileForSend(workspaceId, versionId);
      else template = await defaultTemplate();
      const workspace = await deps.workspaces.get(workspaceId);
      const context: RenderContext & { list: { id: string; name: string }; confirm_url: string } = {
        contact: {
          id: contact.id,
          email: contact.email,
          external_id: contact.external_id,
          attributes: contact.attributes,
          tags: contact.tags,
          timezone: contact.timezone,
          locale: contact.locale,
          status: contact.status,
        },
        lists: [{ id: list.id, name: list.name, status: 'unconfirmed' }],
        list: { id: list.id, name: list.name },
        workspace: { name: workspace.name },
        confirm_url: confirmUrl(workspaceId, listId, contactId),
        unsubscribe_url: '',
        preferences_url: '',
        view_in_browser_url: '',
      };
      let rendered: Awaited<ReturnType<PreparedTemplate['render']>>;
      try {
        rendered = await template.render(context);
      } catch (error) {
        throw new PermanentJobError(`confirmation template failed to render: ${(error as Error).message}`);
      }
      try {
        await mail.send({
          workspaceId,
          id: uuidv7(clock.now().getTime()),
          from: { email: list.confirmation_from_email },
          to: contact.email,
          subject: rendered.subject,
          html: rendered.html,
          text: rendered.text,
        });
      } catch (error) {
        const { kind } = mail.classify(error);
        // The provider's reply may quote the address: keep it out of last_error (it is logged).
        if (kind === 'permanent') throw new PermanentJobError('the transport refused the confirmation email');
        throw error;
      }
    },

    /** For the confirmation page: the list's name, or undefined for an invalid or expired token. */
    async describe(token: string): Promise<{ listName: string } | undefined> {
      const ids = read(token);
      if (!ids) return undefined;
      try {
        const list = await lists.get(ids.workspaceId, ids.listId);
        return { listName: list.name };
      } catch (error) {
        if (isDomainError(error) && error.status === 404) return undefined;
        throw error;
      }
    },

    /**
     * Confirms the membership the token names, recording the confirmation in the consent ledger.
     * `gpc`: the request carried Global Privacy Control (Sec-GPC: 1), which sets the contact's
     * do_not_sell like the other public pages do (consent record with source gpc).
     */
    async confirm(
      token: string,
      origin: Pick<ConsentOrigin, 'ip' | 'userAgent'> & { gpc?: boolean | undefined },
    ): Promise<{ outcome: ConfirmOutcome; listName?: string }> {
      const ids = read(token);
      if (!ids) return { outcome: 'invalid' };
      try {
        const list = await lists.get(ids.workspaceId, ids.listId);
        const result = await lists.confirmMembers(
          ids.workspaceId,
          ids.listId,
          { contact_ids: [ids.contactId] },
          {
            source: 'form',
            sourceId: 'confirm-link',
            ip: origin.ip ?? null,
            userAgent: origin.userAgent ?? null,
          },
        );
        if (result.confirmed === 0 && result.already_confirmed === 0) return { outcome: 'invalid' };
        // Following the link proves someone reads this mailbox: a sunset entry (no engagement for
        // months) would otherwise hold back the very mail the person just asked for.
        const contact = await contacts.get(ids.workspaceId, ids.contactId);
        await deps.suppressions.liftSunset(
          ids.workspaceId,
          contact.email,
          `confirmed a subscription to list ${ids.listId} by its link`,
        );
        // A repeat (already confirmed) honours the signal too: it is the person's browser either way.
        if (origin.gpc && !contact.do_not_sell) {
          await contacts.update(
            ids.workspaceId,
            ids.contactId,
            { do_not_sell: true },
            { source: 'gpc', sourceId: null, ip: origin.ip ?? null, userAgent: origin.userAgent ?? null },
          );
        }
        return { outcome: result.confirmed > 0 ? 'confirmed' : 'already_confirmed', listName: list.name };
      } catch (error) {
        if (isDomainError(error) && error.status === 404) return { outcome: 'invalid' };
        throw error;
      }
    },
  };
}

export type ConfirmationService = ReturnType<typeof createConfirmationService>;
