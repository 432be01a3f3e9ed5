import { type Db, encryptedColumn, type ShopPlatform } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail, isDomainError } from '../../lib/errors.js';
import { isUuid, uuidv7 } from '../../lib/ids.js';
import type { ListService } from '../lists/index.js';
import { SHOP_TOPICS } from './shop-payloads.js';
import { type SecretCipher, sealShopSecret, shopSecretPurpose } from './shop-secrets.js';
import * as repo from './shops.repository.js';

export interface ShopConnection {
  id: string;
  platform: ShopPlatform;
  name: string;
  shop_url: string;
  default_currency: string;
  consent_list_id: string | null;
  /** Paste into the shop's webhook settings. */
  webhook_url: string;
  /** The topics (events) to subscribe the webhook URL to. */
  topics: string[];
  created_at: Date;
  updated_at: Date;
}

export interface ShopConnectionInput {
  platform: ShopPlatform;
  name: string;
  shop_url: string;
  webhook_secret: string;
  default_currency?: string | undefined;
  consent_list_id?: string | null | undefined;
}

export interface ShopConnectionPatch {
  name?: string | undefined;
  shop_url?: string | undefined;
  webhook_secret?: string | undefined;
  default_currency?: string | undefined;
  consent_list_id?: string | null | undefined;
}

export interface ShopDelivery {
  id: string;
  delivery_id: string;
  event_id: string | null;
  topic: string;
  outcome: 'applied' | 'ignored';
  detail: string | null;
  received_at: Date;
}

export interface ShopServiceDeps {
  db: Db;
  clock: Clock;
  /** Encrypts webhook secrets with the workspace data key. */
  cipher: SecretCipher;
  lists: Pick<ListService, 'get'>;
  /** Herald's public base URL, for the webhook URLs. */
  publicUrl: string;
}

export const DEFAULT_SHOP_CURRENCY = 'USD';

let currencies: Set<string> | undefined;
function isCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return currencies.has(code);
}

/** The webhook URL of a connection: the path the public route serves. */
export function webhookPath(platform: ShopPlatform, connectionId: string): string {
  return `/hooks/${platform}/${connectionId}`;
}

/** Shop connections per workspace: CRUD and the delivery log. */
export function createShopService(deps: ShopServiceDeps) {
  const { db, clock, cipher } = deps;

  function present(row: repo.ShopConnectionRow): ShopConnection {
    return {
      id: row.id,
      platform: row.platform,
      name: row.name,
      shop_url: row.shop_url,
      default_currency: row.default_currency,
      consent_list_id: row.consent_list_id,
      webhook_url: `${deps.publicUrl}${webhookPath(row.platform, row.id)}`,
      topics: [...SHOP_TOPICS[row.platform]],
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  /** Checks the fields given; every problem is reported at once. */
  async function check(workspaceId: string, input: ShopConnectionPatch) {
    const errors: ErrorDetail[] = [];
    let shopUrl: string | undefined;
    if (input.shop_url !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(input.shop_url.trim());
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
        errors.push({
          path: '/shop_url',
          message: 'must be the shop address as an http(s) URL, e.g. https://example.myshopify.com',
        });
      } else shopUrl = url.toString().replace(/\/+$/, '');
    }
    let currency: string | undefined;
    if (input.default_currency !== undefined) {
      currency = input.default_currency.toUpperCase();
      if (!isCurrency(currency)) {
        errors.push({ path: '/default_currency', message: 'must be an ISO 4217 code such as EUR or USD' });
      }
    }
    if (input.webhook_secret !== undefined && input.webhook_secret.trim() !== input.webhook_secret) {
      errors.push({ path: '/webhook_secret', message: 'must not start or end with spaces' });
    }
    if (input.consent_list_id !== undefined && input.consent_list_id !== null) {
      try {
        await deps.lists.get(workspaceId, input.consent_list_id);
      } catch (error) {
        if (!isDomainError(error) || error.code !== 'LIST_NOT_FOUND') throw error;
        errors.push({ path: '/consent_list_id', message: 'no list with this id in this workspace' });
      }
    }
    if (errors.length > 0) {
      throw new DomainError(
        'SHOP_CONNECTION_INVALID',
        errors.map((e) => `${e.path?.slice(1)} ${e.message}`).join('; '),
        errors,
      );
    }
    return { shopUrl, currency };
  }

  function nameTaken(name: string): DomainError {
    return new DomainError(
      'SHOP_CONNECTION_EXISTS',
      `a shop connection named "${name}" already exists in this workspace; choose another name`,
      [{ path: '/name', message: 'already used' }],
    );
  }

  async function requireRow(workspaceId: string, id: string): Promise<repo.ShopConnectionRow> {
    const row = isUuid(id) ? await repo.findConnection(db, workspaceId, id) : undefined;
    if (!row) {
      throw new DomainError(
        'SHOP_CONNECTION_NOT_FOUND',
        `shop connection ${id} does not exist in this workspace`,
      );
    }
    return row;
  }

  return {
    async create(workspaceId: string, input: ShopConnectionInput): Promise<ShopConnection> {
      const checked = await check(workspaceId, input);
      const now = clock.now();
      const id = uuidv7(now.getTime());
      const row = await repo.insertConnection(db, {
        id,
        workspace_id: workspaceId,
        platform: input.platform,
        name: input.name,
        shop_url: checked.shopUrl as string,
        secret_encrypted: await sealShopSecret(cipher, workspaceId, id, input.webhook_secret),
        default_currency: checked.currency ?? DEFAULT_SHOP_CURRENCY,
        consent_list_id: input.consent_list_id ?? null,
        created_at: now,
        updated_at: now,
      });
      if (!row) throw nameTaken(input.name);
      return present(row);
    },

    async get(workspaceId: string, id: string): Promise<ShopConnection> {
      return present(await requireRow(workspaceId, id));
    },

    async list(workspaceId: string, page: { cursor?: string | undefined; limit: number }) {
      const after = decodeCursor(page.cursor);
      const rows = await repo.listConnections(db, workspaceId, after, page.limit + 1);
      const result = toPage(rows, page.limit);
      return { data: result.data.map(present), next_cursor: result.next_cursor };
    },

    async update(workspaceId: string, id: string, patch: ShopConnectionPatch): Promise<ShopConnection> {
      const existing = await requireRow(workspaceId, id);
      const checked = await check(workspaceId, patch);
      const secretEncrypted =
        patch.webhook_secret !== undefined
          ? await sealShopSecret(cipher, workspaceId, existing.id, patch.webhook_secret)
          : undefined;
      const result = await repo.updateConnection(db, workspaceId, id, {
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(checked.shopUrl !== undefined ? { shop_url: checked.shopUrl } : {}),
        ...(secretEncrypted !== undefined ? { secret_encrypted: secretEncrypted } : {}),
        ...(checked.currency !== undefined ? { default_currency: checked.currency } : {}),
        ...(patch.consent_list_id !== undefined ? { consent_list_id: patch.consent_list_id } : {}),
        updated_at: clock.now(),
      });
      if (result === 'name_taken') throw nameTaken(patch.name ?? existing.name);
      if (!result) await requireRow(workspaceId, id);
      return present(result as repo.ShopConnectionRow);
    },

    async remove(workspaceId: string, id: string): Promise<void> {
      if (!isUuid(id) || !(await repo.deleteConnection(db, workspaceId, id)))
        await requireRow(workspaceId, id);
    },

    /** Connection webhook secrets, for `herald keys rotate-data` (data-keys module's EncryptedValueSource shape). */
    encryptedValues: {
      name: 'shop_connections.secret',
      ...encryptedColumn(db, 'shop_connections', 'secret_encrypted', shopSecretPurpose),
    },

    /** The connection's accepted webhooks, newest first: what each did, or why it was ignored. */
    async deliveries(
      workspaceId: string,
      id: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<ShopDelivery>> {
      // A bad cursor is a bad request whatever the id names.
      const before = decodeCursor(page.cursor);
      await requireRow(workspaceId, id);
      const rows = await repo.listDeliveries(db, workspaceId, id, before, page.limit + 1);
      const data = rows.slice(0, page.limit).map(
        (r): ShopDelivery => ({
          id: r.id,
          delivery_id: r.delivery_id,
          event_id: r.event_id,
          topic: r.topic,
          outcome: r.outcome,
          detail: r.detail,
          received_at: r.received_at,
        }),
      );
      const last = data[data.length - 1];
      return { data, next_cursor: rows.length > page.limit && last ? encodeCursor(last.id) : null };
    },
  };
}

export type ShopService = ReturnType<typeof createShopService>;
