import { type Db, encryptedColumn } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { ForbiddenAddressError, type Resolve, resolveAllowed } from './address-guard.js';
import { generateWebhookSecret, signWebhook } from './signature.js';
import { WEBHOOK_USER_AGENT } from './webhook-dispatcher.js';
import { isWebhookEventType, PING_EVENT_TYPE, WEBHOOK_EVENT_TYPES } from './webhook-event-types.js';
import { postWebhook } from './webhook-post.js';
import {
  openWebhookSecret,
  type SecretCipher,
  sealWebhookSecret,
  webhookSecretPurpose,
} from './webhook-secrets.js';
import * as repo from './webhooks.repository.js';

export interface WebhookEndpointInput {
  url: string;
  description?: string | null | undefined;
  event_types?: string[] | undefined;
  enabled?: boolean | undefined;
  /** The endpoint is the business's own system or a service provider: it gets events about do-not-sell contacts. */
  share_do_not_sell?: boolean | undefined;
}

export type WebhookEndpointPatch = Partial<WebhookEndpointInput>;

export interface WebhookEndpointView {
  id: string;
  url: string;
  description: string | null;
  /** Empty: every event type. */
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  share_do_not_sell: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface WebhookDeliveryView {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  event_created_at: Date;
  contact_id: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
}

export interface PingResult {
  ok: boolean;
  status_code: number | null;
  error: string | null;
}

export interface WebhookServiceDeps {
  db: Db;
  clock: Clock;
  /** Encrypts endpoint secrets with the workspace data key. */
  cipher: SecretCipher;
  allowHttp: boolean;
  allowPrivate: boolean;
  timeoutMs: number;
  /** Events older than this many days, none of whose deliveries is pending, are purged. */
  retentionDays: number;
  /** Told when this process changes a workspace's endpoints (the hot paths' subscription cache). */
  onEndpointsChanged?: (workspaceId: string) => void;
  resolve?: Resolve;
}

/** Longest replay range: a replay re-sends stored events, and retention keeps them this long at most. */
const MAX_REPLAY_DAYS = 90;

export function createWebhookService(deps: WebhookServiceDeps) {
  const { db, clock, cipher } = deps;

  function view(row: repo.WebhookEndpointRow): WebhookEndpointView {
    return {
      id: row.id,
      url: row.url,
      description: row.description,
      event_types: row.event_types,
      enabled: row.enabled,
      disabled_reason: row.disabled_reason,
      share_do_not_sell: row.share_do_not_sell,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  function deliveryView(row: repo.DeliveryView): WebhookDeliveryView {
    return {
      id: row.id,
      endpoint_id: row.endpoint_id,
      event_id: row.event_id,
      event_type: row.event_type,
      event_created_at: row.event_created_at,
      contact_id: row.contact_id,
      status: row.status,
      attempts: row.attempts,
      last_status_code: row.last_status_code,
      last_error: row.last_error,
      last_attempt_at: row.last_attempt_at,
      next_attempt_at: row.status === 'pending' ? row.next_attempt_at : null,
      delivered_at: row.delivered_at,
    };
  }

  function invalid(path: string, message: string): DomainError {
    return new DomainError('WEBHOOK_ENDPOINT_INVALID', message, [{ path, message }]);
  }

  function notFound(): DomainError {
    return new DomainError(
      'WEBHOOK_ENDPOINT_NOT_FOUND',
      'no webhook endpoint with this id in this workspace; list them with GET /v1/webhooks/endpoints',
    );
  }

  /** Checks scheme, credentials and where the host resolves (SSRF); returns the normalized URL. */
  async function checkUrl(text: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalid(
        '/url',
        `"${text}" is not an absolute URL; give one like https://hooks.example.com/herald`,
      );
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && deps.allowHttp)) {
      throw invalid(
        '/url',
        deps.allowHttp
          ? 'the URL must start with https:// or http://'
          : 'the URL must start with https:// (http:// only when HERALD_WEBHOOKS_ALLOW_HTTP=true)',
      );
    }
    if (url.username || url.password) {
      throw invalid(
        '/url',
        'the URL must not carry a user name or password; authenticate with the signature',
      );
    }
    if (url.hash) throw invalid('/url', 'the URL must not have a #fragment');
    try {
      await resolveAllowed(url.hostname, { allowPrivate: deps.allowPrivate, resolve: deps.resolve });
    } catch (error) {
      if (error instanceof ForbiddenAddressError) {
        throw invalid(
          '/url',
          `${error.message}: webhooks may only reach public addresses (HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true allows private ones)`,
        );
      }
      throw invalid('/url', `the host ${url.hostname} could not be resolved: ${(error as Error).message}`);
    }
    return url.toString();
  }

  function checkTypes(types: string[] | undefined): string[] {
    if (types === undefined) return [];
    const unknown = types.filter((type) => !isWebhookEventType(type));
    if (unknown.length > 0) {
      throw new DomainError(
        'WEBHOOK_ENDPOINT_INVALID',
        `unknown event type ${unknown.map((t) => `"${t}"`).join(', ')}; the types are ${WEBHOOK_EVENT_TYPES.join(', ')} (an empty list subscribes to all)`,
        unknown.map((type) => ({
          path: `/event_types/${types.indexOf(type)}`,
          message: 'unknown event type',
        })),
      );
    }
    return [...new Set(types)].sort();
  }

  async function existing(workspaceId: string, id: string): Promise<repo.WebhookEndpointRow> {
    const row = await repo.findEndpoint(db, workspaceId, id);
    if (!row) throw notFound();
    return row;
  }

  return {
    /** Creates an endpoint; its signing secret is returned only here and by rotateSecret. */
    async create(
      workspaceId: string,
      input: WebhookEndpointInput,
    ): Promise<WebhookEndpointView & { secret: string }> {
      const url = await checkUrl(input.url);
      const eventTypes = checkTypes(input.event_types);
      const id = uuidv7();
      const secret = generateWebhookSecret();
      const now = clock.now();
      const row = await repo.insertEndpoint(db, {
        id,
        workspace_id: workspaceId,
        url,
        description: input.description ?? null,
        event_types: eventTypes,
        enabled: input.enabled ?? true,
        disabled_reason: null,
        share_do_not_sell: input.share_do_not_sell ?? false,
        secret_encrypted: await sealWebhookSecret(cipher, workspaceId, id, secret),
        created_at: now,
        updated_at: now,
      });
      deps.onEndpointsChanged?.(workspaceId);
      return { ...view(row), secret };
    },

    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<WebhookEndpointView>> {
      const rows = await repo.listEndpoints(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const data = rows.slice(0, page.limit).map(view);
      const last = data.at(-1);
      return { data, next_cursor: rows.length > page.limit && last ? encodeCursor(last.id) : null };
    },

    async get(workspaceId: string, id: string): Promise<WebhookEndpointView> {
      return view(await existing(workspaceId, id));
    },

    async update(workspaceId: string, id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpointView> {
      const before = await existing(workspaceId, id);
      const changes: Parameters<typeof repo.updateEndpoint>[3] = { updated_at: clock.now() };
      if (patch.url !== undefined) changes.url = await checkUrl(patch.url);
      if (patch.event_types !== undefined) changes.event_types = checkTypes(patch.event_types);
      if (patch.description !== undefined) changes.description = patch.description;
      if (patch.enabled !== undefined) {
        changes.enabled = patch.enabled;
        changes.disabled_reason = null;
      }
      if (patch.share_do_not_sell !== undefined) changes.share_do_not_sell = patch.share_do_not_sell;
      const row = await repo.updateEndpoint(db, workspaceId, id, changes);
      if (!row) throw notFound();
      // Now a third party: what it was still to get about do-not-sell contacts is not sent.
      if (before.share_do_not_sell && !row.share_do_not_sell)
        await repo.dropPendingDoNotSell(db, workspaceId, id);
      deps.onEndpointsChanged?.(workspaceId);
      return view(row);
    },

    async remove(workspaceId: string, id: string): Promise<void> {
      if (!(await repo.deleteEndpoint(db, workspaceId, id))) throw notFound();
      deps.onEndpointsChanged?.(workspaceId);
    },

    /** A new secret, effective for every delivery attempted from now on (pending retries included). */
    async rotateSecret(workspaceId: string, id: string): Promise<WebhookEndpointView & { secret: string }> {
      await existing(workspaceId, id);
      const secret = generateWebhookSecret();
      const row = await repo.updateEndpoint(db, workspaceId, id, {
        secret_encrypted: await sealWebhookSecret(cipher, workspaceId, id, secret),
        updated_at: clock.now(),
      });
      if (!row) throw notFound();
      return { ...view(row), secret };
    },

    /** Endpoint secrets, for `herald keys rotate-data` (data-keys module's EncryptedValueSource shape). */
    encryptedValues: {
      name: 'webhook_endpoints.secret',
      ...encryptedColumn(db, 'webhook_endpoints', 'secret_encrypted', webhookSecretPurpose),
    },

    /** POSTs a `webhook.ping` event now, signed like every delivery; not recorded, not retried. */
    async ping(workspaceId: string, id: string): Promise<PingResult> {
      const row = await existing(workspaceId, id);
      const now = clock.now();
      const messageId = uuidv7(now.getTime());
      const body = JSON.stringify({
        type: PING_EVENT_TYPE,
        timestamp: now.toISOString(),
        data: { endpoint_id: row.id },
      });
      const timestamp = Math.floor(now.getTime() / 1000);
      try {
        const { statusCode } = await postWebhook({
          url: row.url,
          body,
          headers: {
            'content-type': 'application/json',
            'user-agent': WEBHOOK_USER_AGENT,
            'webhook-id': messageId,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signWebhook(
              await openWebhookSecret(cipher, workspaceId, row.id, row.secret_encrypted),
              messageId,
              timestamp,
              body,
            ),
          },
          timeoutMs: deps.timeoutMs,
          allowPrivate: deps.allowPrivate,
          resolve: deps.resolve,
        });
        const ok = statusCode >= 200 && statusCode < 300;
        return { ok, status_code: statusCode, error: ok ? null : `endpoint answered HTTP ${statusCode}` };
      } catch (error) {
        return { ok: false, status_code: null, error: (error as Error).message };
      }
    },

    async deliveries(
      workspaceId: string,
      endpointId: string,
      page: { cursor?: string | undefined; limit: number; status?: string | undefined },
    ): Promise<Page<WebhookDeliveryView>> {
      // A bad cursor is a bad request whatever the endpoint.
      const before = decodeCursor(page.cursor);
      await existing(workspaceId, endpointId);
      const rows = await repo.listDeliveries(db, workspaceId, endpointId, {
        before,
        limit: page.limit,
        status: page.status,
      });
      const data = rows.slice(0, page.limit).map(deliveryView);
      const last = data.at(-1);
      return { data, next_cursor: rows.length > page.limit && last ? encodeCursor(last.event_id) : null };
    },

    /** Makes one delivery pending again, due now, with a fresh retry schedule. */
    async retryDelivery(workspaceId: string, id: string): Promise<WebhookDeliveryView> {
      const existingDelivery = await repo.findDelivery(db, workspaceId, id);
      if (!existingDelivery) {
        throw new DomainError(
          'WEBHOOK_DELIVERY_NOT_FOUND',
          'no webhook delivery with this id in this workspace; list them with GET /v1/webhooks/endpoints/{id}/deliveries',
        );
      }
      const row = await repo.resetDelivery(db, workspaceId, id, clock.now());
      if (!row) throw notFound();
      return deliveryView(row);
    },

    /** Deletes events past retention that no delivery still waits for; the periodic purge job. */
    async purge(): Promise<number> {
      return repo.purgeEvents(db, new Date(clock.now().getTime() - deps.retentionDays * 86_400_000));
    },

    /** Re-enqueues the stored events in [from, to) the endpoint subscribes to. */
    async replay(
      workspaceId: string,
      endpointId: string,
      range: { from: Date; to: Date },
    ): Promise<{ enqueued: number }> {
      const row = await existing(workspaceId, endpointId);
      if (!(range.from < range.to)) {
        throw new DomainError('VALIDATION_FAILED', '"from" must be earlier than "to"', [
          { path: '/from', message: 'must be earlier than to' },
        ]);
      }
      if (range.to.getTime() - range.from.getTime() > MAX_REPLAY_DAYS * 86_400_000) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `a replay covers at most ${MAX_REPLAY_DAYS} days; split it`,
          [{ path: '/to', message: `at most ${MAX_REPLAY_DAYS} days after from` }],
        );
      }
      return { enqueued: await repo.replayEvents(db, row, range, clock.now()) };
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
