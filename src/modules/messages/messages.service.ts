import { createHash } from 'node:crypto';
import type { Db, MessageStatus } from '../../db/index.js';
import type { JobQueue } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { AttributeService } from '../attributes/index.js';
import type { Contact, ContactService } from '../contacts/index.js';
import { requireEmail } from '../contacts/index.js';
import {
  type PreparedTemplate,
  type RenderContext,
  RenderTimeLimitError,
  type TemplateCompiler,
  type TemplateService,
  withPostalAddress,
} from '../templates/index.js';
import type { TrackingService } from '../tracking/index.js';
import { recordWebhookEvent } from '../webhooks/index.js';
import type { WorkspaceService } from '../workspaces/index.js';
import { MARKETING_SUPPRESSED_STATUSES, type MailPort, SUPPRESSED_STATUSES } from './mail-port.js';
import * as repo from './messages.repository.js';

export const SEND_TASK = 'messages.send';

export interface MessageInput {
  to: string;
  template_id?: string | undefined;
  inline?: { subject: string; html?: string | undefined; text?: string | undefined } | undefined;
  data?: Record<string, unknown> | undefined;
  from_email: string;
  from_name?: string | undefined;
  reply_to?: string | undefined;
  transport_id?: string | undefined;
  /** Open pixel and tracked links (template messages only). */
  track?: boolean | undefined;
  idempotency_key?: string | undefined;
  /**
   * A template version to send instead of the template's latest (automations
   * send the version their published version pinned). Internal: not in the API.
   */
  template_version_id?: string | undefined;
  /**
   * Marketing mail from an automation: never to unsubscribed contacts, with
   * one-click unsubscribe and Feedback-ID headers, and `automation` in Liquid.
   * Internal: not in the API.
   */
  automation?: { id: string; name: string; data: Record<string, unknown>; marketing: boolean } | undefined;
}

export interface Message {
  id: string;
  to: string;
  contact_id: string;
  status: MessageStatus;
  template_id: string | null;
  template_version_id: string | null;
  idempotency_key: string | null;
  message_id: string;
  provider_message_id: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
}

/** Inline content compiled once at acceptance; the job only parses and renders it. */
interface InlineContent {
  kind: 'inline';
  subject: string;
  html: string | null;
  text: string | null;
  compiled_html: string;
  compiled_text: string;
  /** The workspace snippets the content includes, as they were at acceptance (absent on older messages). */
  snippets?: Record<string, string> | undefined;
}

interface StoredPayload {
  content: { kind: 'template'; template_id: string; template_version_id: string } | InlineContent;
  data: Record<string, unknown>;
  from_email: string;
  from_name: string | null;
  reply_to: string | null;
  transport_id: string | null;
  /** Absent on messages accepted before tracking existed: untracked. */
  track?: boolean;
  /** Messages from automations (absent on others). */
  automation?: { id: string; name: string; data: Record<string, unknown>; marketing: boolean };
}

function suppresses(payload: Pick<StoredPayload, 'automation'>, status: string): boolean {
  return (payload.automation?.marketing ? MARKETING_SUPPRESSED_STATUSES : SUPPRESSED_STATUSES).includes(
    status,
  );
}

const kindOf = (payload: Pick<StoredPayload, 'automation'>) =>
  payload.automation?.marketing ? 'marketing' : 'transactional';

export interface MessageServiceDeps {
  db: Db;
  clock: Clock;
  jobs: Pick<JobQueue, 'enqueue'>;
  contacts: Pick<ContactService, 'findOrCreateByEmails' | 'findByIds'>;
  /** Decrypts sensitive attribute values for rendering at send time; without it they render as stored. */
  attributes?: Pick<AttributeService, 'reveal'> | undefined;
  templates: Pick<TemplateService, 'latestVersionId' | 'compileForSend' | 'compileInline'>;
  compiler: Pick<TemplateCompiler, 'prepare'>;
  workspaces: Pick<WorkspaceService, 'get'>;
  mail: MailPort;
  /** Refuses From addresses at unverified sending domains (the sending-domains module's rule); none: no refusal. */
  senderDomains?: { assertMaySendFrom(workspaceId: string, fromEmail: string): Promise<void> } | undefined;
  /** Open pixel and link rewriting for messages sent with `track`. */
  tracking?: Pick<TrackingService, 'prepare'> | undefined;
  /**
   * The workspace's suppression list (deliverability module): checked at
   * acceptance and again at send. Sunset entries hold back marketing only.
   */
  suppressions: {
    isSuppressed(
      workspaceId: string,
      email: string,
      trx?: Db,
      kind?: 'marketing' | 'transactional',
    ): Promise<boolean>;
  };
  /** A permanent failure with its error, after it is recorded: an SMTP refusal becomes a hard bounce. */
  onRefused?:
    | ((
        workspaceId: string,
        refused: { email: string; messageId: string; error: unknown; final: boolean }[],
      ) => Promise<unknown>)
    | undefined;
}

/**
 * Transactional messages: accepted durably (the row and its send job commit
 * together), sent by the job runner. They skip marketing unsubscribes but
 * never go to bounced, complained or blocked contacts.
 */
export function createMessageService(deps: MessageServiceDeps) {
  const { db, clock, jobs, contacts, templates, compiler, mail } = deps;

  async function prepareInline(
    workspaceId: string,
    inline: NonNullable<MessageInput['inline']>,
  ): Promise<InlineContent> {
    if (inline.html === undefined && inline.text === undefined) {
      throw new DomainError('VALIDATION_FAILED', 'inline content needs html, text or both', [
        { path: '/inline', message: 'give html, text or both' },
      ]);
    }
    // Like a template version: validated, with the workspace's snippets copied in, once, here.
    const artefacts = await templates.compileInline(workspaceId, {
      subject: inline.subject,
      html: inline.html ?? null,
      text: inline.text ?? null,
    });
    return {
      kind: 'inline',
      subject: inline.subject,
      html: inline.html ?? null,
      text: inline.text ?? null,
      compiled_html: artefacts.html,
      compiled_text: artefacts.text,
      snippets: artefacts.snippets,
    };
  }

  /**
   * The message's template, parsed. Automation emails of kind marketing get
   * the workspace's postal address footer (CAN-SPAM) where the template does
   * not show it; transactional messages never do.
   */
  async function prepared(
    workspaceId: string,
    payload: StoredPayload,
    postalAddress: string | null,
  ): Promise<PreparedTemplate> {
    const content = payload.content;
    const footerAddress = payload.automation?.marketing ? postalAddress : null;
    if (content.kind === 'template')
      return templates.compileForSend(workspaceId, content.template_version_id, {
        postalAddress: footerAddress,
      });
    const snippets = content.snippets ?? {};
    return compiler.prepare(
      {
        subject: content.subject,
        body: content.html ?? undefined,
        preheader: null,
        text_body: content.text,
        snippets,
        ...withPostalAddress(
          { compiled_html: content.compiled_html, compiled_text: content.compiled_text, snippets },
          footerAddress,
        ),
      },
      { strictVariables: false },
    );
  }

  /** The rendered parts with the open pixel and tracked links, when the message asked for them. */
  async function tracked(
    workspaceId: string,
    id: string,
    payload: StoredPayload,
    contact: Contact,
    rendered: { html?: string | undefined; text: string },
  ): Promise<{ html?: string | undefined; text: string }> {
    const content = payload.content;
    if (!payload.track || content.kind !== 'template' || !deps.tracking) return rendered;
    const tracker = await deps.tracking.prepare({
      workspaceId,
      templateVersionId: content.template_version_id,
      trackOpens: rendered.html !== undefined,
      trackClicks: true,
    });
    const applied = tracker.apply(
      { html: rendered.html ?? '', text: rendered.text },
      { workspaceId, messageId: id, contactId: contact.id, trackingConsent: contact.tracking_consent },
    );
    return { html: rendered.html === undefined ? undefined : applied.html, text: applied.text };
  }

  // Takes the workspace name rather than reading it: accept() renders inside a transaction, and on the
  // embedded database a second connection would wait for that transaction forever.
  async function render(
    workspace: { name: string; postal_address: string | null },
    payload: StoredPayload,
    template: PreparedTemplate,
    contact: Contact,
    unsubscribeUrl = '',
  ) {
    const context: RenderContext & { data: Record<string, unknown>; automation?: unknown } = {
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
      lists: [],
      workspace: { name: workspace.name, postal_address: workspace.postal_address },
      unsubscribe_url: unsubscribeUrl,
      preferences_url: '',
      view_in_browser_url: '',
      data: payload.data,
      ...(payload.automation
        ? {
            automation: {
              id: payload.automation.id,
              name: payload.automation.name,
              data: payload.automation.data,
            },
          }
        : {}),
    };
    const rendered = await template.render(context);
    const hasHtml = payload.content.kind === 'template' || payload.content.html !== null;
    return { ...rendered, html: hasHtml ? rendered.html : undefined };
  }

  return {
    /** Accepts a message; `created` is false when the idempotency key names an earlier one. */
    async accept(workspaceId: string, input: MessageInput): Promise<{ message: Message; created: boolean }> {
      if ((input.template_id === undefined) === (input.inline === undefined)) {
        throw new DomainError('VALIDATION_FAILED', 'give either template_id or inline content, not both', [
          { path: '/template_id', message: 'exactly one of template_id and inline is required' },
        ]);
      }
      const to = requireEmail(input.to, '/to');
      const fromEmail = requireEmail(input.from_email, '/from_email');
      const replyTo = input.reply_to === undefined ? null : requireEmail(input.reply_to, '/reply_to');
      const requestHash = hashRequest(input, { to, fromEmail, replyTo });
      const repeated = (earlier: repo.MessageRow) => {
        // Messages accepted before hashes were stored have none: they match any request, as before.
        if (earlier.request_hash !== null && earlier.request_hash !== requestHash) {
          throw keyReused(earlier);
        }
        return { message: toMessage(earlier), created: false };
      };
      if (input.idempotency_key !== undefined) {
        const earlier = await repo.findByIdempotencyKey(db, workspaceId, input.idempotency_key);
        if (earlier) return repeated(earlier);
      }
      if (input.transport_id) await mail.checkTransport(workspaceId, input.transport_id);
      // After the idempotency lookup: a repeat of an accepted request still gets its message.
      await deps.senderDomains?.assertMaySendFrom(workspaceId, fromEmail);

      if (input.track && input.template_id === undefined) {
        throw new DomainError(
          'VALIDATION_FAILED',
          'track needs template_id (tracked links are registered per template version): send a template, or leave track out for inline content',
          [{ path: '/track', message: 'only with template_id' }],
        );
      }
      let content: StoredPayload['content'];
      if (input.template_id !== undefined) {
        const versionId =
          input.template_version_id ?? (await templates.latestVersionId(workspaceId, input.template_id));
        if (!versionId) {
          throw new DomainError(
            'TEMPLATE_NOT_FOUND',
            `template ${input.template_id} does not exist in this workspace`,
            [{ path: '/template_id', message: 'no such template' }],
          );
        }
        content = { kind: 'template', template_id: input.template_id, template_version_id: versionId };
      } else {
        content = await prepareInline(workspaceId, input.inline as NonNullable<MessageInput['inline']>);
      }
      const payload: StoredPayload = {
        content,
        data: input.data ?? {},
        from_email: fromEmail,
        from_name: input.from_name ?? null,
        reply_to: replyTo,
        transport_id: input.transport_id ?? null,
        ...(input.track ? { track: true } : {}),
        ...(input.automation ? { automation: input.automation } : {}),
      };
      const workspace = await deps.workspaces.get(workspaceId);
      const template = await prepared(workspaceId, payload, workspace.postal_address);

      return db.transaction().execute(async (trx) => {
        const found = await contacts.findOrCreateByEmails(workspaceId, [to], trx);
        const contact = found.contacts[0];
        if (!contact)
          throw new DomainError('INVALID_EMAIL', 'to is not a valid email address', [
            { path: '/to', message: 'invalid' },
          ]);
        // Render once now, so Liquid errors with this data are the caller's 400, not a failed send later.
        await render(workspace, payload, template, contact);
        const now = clock.now();
        const id = uuidv7(now.getTime());
        const suppressed =
          suppresses(payload, contact.status) ||
          (await deps.suppressions.isSuppressed(workspaceId, to, trx, kindOf(payload)));
        const row = await repo.insertMessage(trx, {
          id,
          workspace_id: workspaceId,
          contact_id: contact.id,
          to_email: to,
          status: suppressed ? 'failed' : 'queued',
          idempotency_key: input.idempotency_key ?? null,
          payload: JSON.stringify(payload),
          request_hash: requestHash,
          message_id: `<${id}@${fromEmail.split('@')[1]}>`,
          provider_message_id: null,
          error: suppressed ? 'suppressed' : null,
          created_at: now,
          updated_at: now,
          sent_at: null,
        });
        if (!row) {
          // A concurrent request with the same key won.
          const earlier = await repo.findByIdempotencyKey(trx, workspaceId, input.idempotency_key as string);
          if (!earlier) throw new Error('idempotency conflict without a message');
          return repeated(earlier);
        }
        if (!suppressed) {
          await jobs.enqueue(
            SEND_TASK,
            { workspaceId, messageId: id },
            { workspaceId, idempotencyKey: id, maxAttempts: 10 },
            trx,
          );
        }
        return { message: toMessage(row), created: true };
      });
    },

    async get(workspaceId: string, id: string): Promise<Message> {
      const row = await repo.findMessage(db, workspaceId, id);
      if (!row) throw new DomainError('MESSAGE_NOT_FOUND', `message ${id} does not exist in this workspace`);
      return toMessage(row);
    },

    /**
     * The `messages.send` job: renders, builds, signs and sends one message.
     * Permanent failures finish the message as failed; temporary and
     * connection failures throw, so the runner retries with backoff.
     */
    async send(workspaceId: string, id: string): Promise<void> {
      const row = await repo.findMessage(db, workspaceId, id);
      if (row?.status !== 'queued') return;
      const payload = row.payload as StoredPayload;
      const [stored] = await contacts.findByIds(workspaceId, [row.contact_id]);
      // Decrypted here, outside any transaction; accept() renders its check with the stored form.
      const contact =
        stored && deps.attributes
          ? { ...stored, attributes: await deps.attributes.reveal(workspaceId, stored.attributes) }
          : stored;
      if (
        !contact ||
        suppresses(payload, contact.status) ||
        (await deps.suppressions.isSuppressed(workspaceId, row.to_email, db, kindOf(payload)))
      ) {
        await repo.finish(db, workspaceId, id, { status: 'failed', error: 'suppressed' }, clock.now());
        return;
      }
      const links = payload.automation?.marketing
        ? mail.marketingLinks({
            workspaceId,
            messageId: id,
            contactId: contact.id,
            fromEmail: payload.from_email,
          })
        : undefined;
      let rendered: Awaited<ReturnType<typeof render>>;
      try {
        const workspace = await deps.workspaces.get(workspaceId);
        rendered = await render(
          workspace,
          payload,
          await prepared(workspaceId, payload, workspace.postal_address),
          contact,
          links?.url,
        );
      } catch (error) {
        // Out of render time may pass on the job's next attempt; every other render error is final.
        if (error instanceof RenderTimeLimitError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        await repo.finish(
          db,
          workspaceId,
          id,
          { status: 'failed', error: `render: ${message}` },
          clock.now(),
        );
        return;
      }
      try {
        const body = await tracked(workspaceId, id, payload, contact, rendered);
        const result = await mail.send({
          workspaceId,
          id,
          from: { email: payload.from_email, name: payload.from_name ?? undefined },
          replyTo: payload.reply_to,
          to: row.to_email,
          subject: rendered.subject,
          html: body.html,
          text: body.text,
          transportId: payload.transport_id,
          marketing:
            links && payload.automation
              ? {
                  automationId: payload.automation.id,
                  unsubscribeUrl: links.url,
                  unsubscribeMailto: links.mailto,
                }
              : undefined,
        });
        const sentAt = clock.now();
        await db.transaction().execute(async (trx) => {
          await repo.finish(
            trx,
            workspaceId,
            id,
            { status: 'sent', providerMessageId: result.providerMessageId },
            sentAt,
          );
          await recordWebhookEvent(trx, {
            workspaceId,
            type: 'message.sent',
            contactId: contact.id,
            data: { message_id: id, automation_id: payload.automation?.id ?? null },
            at: sentAt,
          });
        });
      } catch (error) {
        const { kind, detail } = mail.classify(error);
        if (kind !== 'permanent') throw error;
        await repo.finish(
          db,
          workspaceId,
          id,
          { status: 'failed', error: detail.slice(0, 1000) },
          clock.now(),
        );
        await deps.onRefused?.(workspaceId, [
          { email: row.to_email, messageId: row.message_id, error, final: true },
        ]);
      }
    },

    /** The runner gave up retrying: the message failed. */
    async giveUp(workspaceId: string, id: string, reason: string): Promise<void> {
      await repo.finish(db, workspaceId, id, { status: 'failed', error: reason.slice(0, 1000) }, clock.now());
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;

/**
 * SHA-256 of the request as it is understood: addresses lower-cased, absent
 * optional fields as null, object keys sorted at every depth. Two requests
 * with the same hash would send the same message.
 */
function hashRequest(
  input: MessageInput,
  normalized: { to: string; fromEmail: string; replyTo: string | null },
): string {
  const request = {
    to: normalized.to.toLowerCase(),
    template_id: input.template_id?.toLowerCase() ?? null,
    inline: input.inline
      ? { subject: input.inline.subject, html: input.inline.html ?? null, text: input.inline.text ?? null }
      : null,
    data: input.data ?? {},
    from_email: normalized.fromEmail.toLowerCase(),
    from_name: input.from_name ?? null,
    reply_to: normalized.replyTo?.toLowerCase() ?? null,
    transport_id: input.transport_id?.toLowerCase() ?? null,
    // Left out when false, so requests from before the option existed keep their hash.
    track: input.track === true ? true : undefined,
    template_version_id: input.template_version_id?.toLowerCase(),
    automation: input.automation,
  };
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function keyReused(earlier: repo.MessageRow): DomainError {
  return new DomainError(
    'IDEMPOTENCY_KEY_REUSED',
    `idempotency_key "${earlier.idempotency_key}" was already used for a different request (message ${earlier.id}); repeat that request exactly to get its message back, or use a new key for a new message`,
    [{ path: '/idempotency_key', message: 'already used for a different request', message_id: earlier.id }],
  );
}

function toMessage(row: repo.MessageRow): Message {
  const payload = row.payload as StoredPayload;
  const content = payload.content;
  return {
    id: row.id,
    to: row.to_email,
    contact_id: row.contact_id,
    status: row.status,
    template_id: content.kind === 'template' ? content.template_id : null,
    template_version_id: content.kind === 'template' ? content.template_version_id : null,
    idempotency_key: row.idempotency_key,
    message_id: row.message_id,
    provider_message_id: row.provider_message_id,
    error: row.error,
    created_at: row.created_at,
    updated_at: row.updated_at,
    sent_at: row.sent_at,
  };
}
