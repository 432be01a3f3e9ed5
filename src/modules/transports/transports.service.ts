import { join } from 'node:path';
import { type Db, encryptedColumn, isUniqueViolation } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import {
  createRateLimiter,
  createTransport,
  isTransportError,
  type RateLimiter,
  type Timers,
  type Transport,
  type TransportErrorKind,
  type TransportType,
} from '../../mail/transports/index.js';
import * as repo from './transports.repository.js';
import { TRANSPORT_RULES, toTransportSpec, validateTransportConfig } from './transports.settings.js';

export interface RateLimitInput {
  per_second?: number | null | undefined;
  per_hour?: number | null | undefined;
  per_day?: number | null | undefined;
}

export interface TransportInput {
  name: string;
  type: TransportType;
  settings?: Record<string, unknown> | undefined;
  secrets?: Record<string, string> | undefined;
  rate_limit?: RateLimitInput | undefined;
  max_concurrency?: number | undefined;
  is_default?: boolean | undefined;
}

export interface TransportPatch {
  name?: string | undefined;
  /** Merged into the stored settings; a null value removes the key. */
  settings?: Record<string, unknown> | undefined;
  /** Merged into the stored secrets; a null value removes the secret. */
  secrets?: Record<string, string | null> | undefined;
  rate_limit?: RateLimitInput | undefined;
  max_concurrency?: number | undefined;
  is_default?: boolean | undefined;
}

/** A transport as the API shows it: settings, but of its secrets only their names. */
export interface TransportView {
  id: string;
  name: string;
  type: TransportType;
  settings: Record<string, unknown>;
  secrets_set: string[];
  rate_limit: { per_second: number | null; per_hour: number | null; per_day: number | null };
  max_concurrency: number;
  is_default: boolean;
  created_at: Date;
  updated_at: Date;
}

/** A ready-to-use transport with its limiter; `id` is null for the built-in file transport. */
export interface LiveTransport {
  id: string | null;
  name: string;
  type: TransportType;
  transport: Transport;
  limiter: RateLimiter;
}

export type TestSendResult =
  | { delivered: true; message_id: string; provider_message_id: string }
  | {
      delivered: false;
      message_id: string;
      error: { kind: TransportErrorKind; code: string | null; message: string };
    };

/**
 * Field encryption with the workspace's data keys; values in the older
 * master-key format still decrypt. It may read keys from the database, so it
 * is never called inside a transaction (PGlite has one session).
 */
export interface SecretCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
}

export interface TransportServiceDeps {
  db: Db;
  clock: Clock;
  /** Encrypts credentials with the workspace's data key (the data-keys module's WorkspaceCipher). */
  cipher: SecretCipher;
  /** Herald's data folder; the file transport writes under `<dataDir>/outbox`. */
  dataDir: string;
  timers?: Timers | undefined;
}

/** How many campaigns an in-use error names; more are counted, not listed. */
const USES_LISTED = 20;

const BUILT_IN_FILE = { name: 'file (built-in)', maxConcurrency: 5 };

export function createTransportService(deps: TransportServiceDeps) {
  const { db, clock, cipher } = deps;
  const outbox = join(deps.dataDir, 'outbox');
  /** Live instances by transport id, rebuilt when the row's updated_at moves (also after changes by other processes). */
  const live = new Map<string, { version: number; value: LiveTransport }>();
  const builtIn = new Map<string, LiveTransport>();

  const context = (id: string) => `transports:${id}`;

  async function readSecrets(row: repo.TransportRow): Promise<Record<string, string>> {
    if (!row.secrets) return {};
    return JSON.parse(await cipher.decrypt(row.workspace_id, context(row.id), row.secrets)) as Record<
      string,
      string
    >;
  }

  async function sealSecrets(
    workspaceId: string,
    id: string,
    secrets: Record<string, string>,
  ): Promise<string | null> {
    return Object.keys(secrets).length === 0
      ? null
      : cipher.encrypt(workspaceId, context(id), JSON.stringify(secrets));
  }

  async function view(row: repo.TransportRow): Promise<TransportView> {
    return {
      id: row.id,
      name: row.name,
      type: row.type,
      settings: row.settings,
      secrets_set: Object.keys(await readSecrets(row)).sort(),
      rate_limit: { per_second: row.rate_per_second, per_hour: row.rate_per_hour, per_day: row.rate_per_day },
      max_concurrency: row.max_concurrency,
      is_default: row.is_default,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  function notFound(): DomainError {
    return new DomainError(
      'TRANSPORT_NOT_FOUND',
      'no transport with this id in this workspace; list them with GET /v1/transports',
    );
  }

  function exists(name: string): DomainError {
    return new DomainError(
      'TRANSPORT_EXISTS',
      `a transport named "${name}" already exists in this workspace; choose another name`,
      [{ path: '/name', message: 'already taken' }],
    );
  }

  async function evict(id: string): Promise<void> {
    const cached = live.get(id);
    live.delete(id);
    if (cached) {
      cached.value.limiter.close();
      await cached.value.transport.close();
    }
  }

  async function build(row: repo.TransportRow): Promise<LiveTransport> {
    const transport = createTransport(
      toTransportSpec(row.type, row.settings, await readSecrets(row), outbox),
    );
    const limiter = createRateLimiter(
      {
        perSecond: row.rate_per_second ?? undefined,
        perHour: row.rate_per_hour ?? undefined,
        perDay: row.rate_per_day ?? undefined,
        maxConcurrency: row.max_concurrency,
      },
      { clock, timers: deps.timers },
    );
    return { id: row.id, name: row.name, type: row.type, transport, limiter };
  }

  function fileFallback(workspaceId: string): LiveTransport {
    // One per workspace, so one workspace's backlog does not hold another's concurrency.
    let value = builtIn.get(workspaceId);
    if (!value) {
      value = {
        id: null,
        name: BUILT_IN_FILE.name,
        type: 'file',
        transport: createTransport({ type: 'file', folder: outbox }),
        limiter: createRateLimiter(
          { maxConcurrency: BUILT_IN_FILE.maxConcurrency },
          { clock, timers: deps.timers },
        ),
      };
      builtIn.set(workspaceId, value);
    }
    return value;
  }

  /** Secrets changed by someone else between reading and writing them; the update starts again. */
  class SecretsMoved extends Error {}

  /**
   * One attempt at an update. Secrets are decrypted and sealed before the
   * transaction (the cipher may read keys), then the transaction checks that
   * the stored secrets are still the ones merged.
   */
  async function updateOnce(
    workspaceId: string,
    id: string,
    patch: TransportPatch,
  ): Promise<repo.TransportRow> {
    const touchesConfig = patch.settings !== undefined || patch.secrets !== undefined;
    let sealed: { previous: string | null; next: string | null; secrets: Record<string, string> } | undefined;
    if (touchesConfig) {
      const before = await repo.findTransport(db, workspaceId, id);
      if (!before) throw notFound();
      const secrets = merge(await readSecrets(before), patch.secrets ?? {}) as Record<string, string>;
      // Checked before sealing too, so a bad request does not even create the workspace's data key.
      validateTransportConfig(before.type, merge(before.settings, patch.settings ?? {}), secrets);
      sealed = { previous: before.secrets, next: await sealSecrets(workspaceId, id, secrets), secrets };
    }
    return db.transaction().execute(async (trx) => {
      const current = await repo.findTransport(trx, workspaceId, id, true);
      if (!current) throw notFound();
      const changes: repo.TransportChanges = {};
      if (patch.name !== undefined) changes.name = patch.name;
      if (sealed) {
        if (current.secrets !== sealed.previous) throw new SecretsMoved();
        const settings = merge(current.settings, patch.settings ?? {});
        validateTransportConfig(current.type, settings, sealed.secrets);
        changes.settings = JSON.stringify(settings);
        changes.secrets = sealed.next;
      }
      if (patch.rate_limit) {
        if (patch.rate_limit.per_second !== undefined) changes.rate_per_second = patch.rate_limit.per_second;
        if (patch.rate_limit.per_hour !== undefined) changes.rate_per_hour = patch.rate_limit.per_hour;
        if (patch.rate_limit.per_day !== undefined) changes.rate_per_day = patch.rate_limit.per_day;
      }
      if (patch.max_concurrency !== undefined) changes.max_concurrency = patch.max_concurrency;
      if (patch.is_default !== undefined) {
        changes.is_default = patch.is_default;
        if (patch.is_default) await repo.clearDefault(trx, workspaceId, id);
        else if (current.is_default) {
          // Without a default, campaigns naming no transport would silently go to the .eml outbox.
          const users = await repo.unfinishedCampaignsUsingTransport(
            trx,
            workspaceId,
            current,
            USES_LISTED + 1,
            true,
          );
          if (users.length > 0) throw inUse(current, users, 'unset');
        }
      }
      const result = await repo.updateTransport(trx, workspaceId, id, changes, clock.now());
      if ('nameTaken' in result) throw exists(patch.name ?? '');
      if (!result.row) throw notFound();
      return result.row;
    });
  }

  const service = {
    async create(workspaceId: string, input: TransportInput): Promise<TransportView> {
      const settings = input.settings ?? {};
      const secrets = input.secrets ?? {};
      validateTransportConfig(input.type, settings, secrets);
      const id = uuidv7();
      const now = clock.now();
      // Sealed before the transaction: the cipher may load the workspace's data key.
      const sealed = await sealSecrets(workspaceId, id, secrets);
      const created = await defaultRace(() =>
        db.transaction().execute(async (trx) => {
          // The first transport of a workspace becomes its default unless told otherwise.
          const isDefault = input.is_default ?? !(await repo.hasDefaultTransport(trx, workspaceId));
          // Only an explicit is_default takes the flag from another transport; the implicit first-transport
          // default never does, so a concurrent first transport that committed meanwhile keeps it.
          if (input.is_default === true) await repo.clearDefault(trx, workspaceId, id);
          const row = await repo.insertTransport(trx, {
            id,
            workspace_id: workspaceId,
            name: input.name,
            type: input.type,
            settings: JSON.stringify(settings),
            secrets: sealed,
            rate_per_second: input.rate_limit?.per_second ?? null,
            rate_per_hour: input.rate_limit?.per_hour ?? null,
            rate_per_day: input.rate_limit?.per_day ?? null,
            max_concurrency: input.max_concurrency ?? 5,
            is_default: isDefault,
            created_at: now,
            updated_at: now,
          });
          if (!row) throw exists(input.name);
          return row;
        }),
      );
      return view(created);
    },

    async get(workspaceId: string, id: string): Promise<TransportView> {
      const row = await repo.findTransport(db, workspaceId, id);
      if (!row) throw notFound();
      return view(row);
    },

    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<TransportView>> {
      const rows = await repo.listTransports(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const result = toPage(rows, page.limit);
      return { data: await Promise.all(result.data.map(view)), next_cursor: result.next_cursor };
    },

    async update(workspaceId: string, id: string, patch: TransportPatch): Promise<TransportView> {
      let updated: repo.TransportRow | undefined;
      for (let attempt = 1; !updated; attempt++) {
        try {
          updated = await defaultRace(() => updateOnce(workspaceId, id, patch));
        } catch (error) {
          if (!(error instanceof SecretsMoved) || attempt >= 5) throw error;
        }
      }
      await evict(id);
      return view(updated);
    },
    /**
     * Deletes a transport unless an unfinished campaign sends through it (by
     * naming it or, for the default, by naming none): 409 TRANSPORT_IN_USE
     * naming them, since they would otherwise fail or fall back to another
     * transport mid-way.
     */
    async remove(workspaceId: string, id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const row = await repo.findTransport(trx, workspaceId, id, true);
        if (!row) throw notFound();
        const users = await repo.unfinishedCampaignsUsingTransport(trx, workspaceId, row, USES_LISTED + 1);
        if (users.length > 0) throw inUse(row, users, 'delete');
        await repo.deleteTransport(trx, workspaceId, id);
      });
      await evict(id);
    },

    /**
     * The live transport to send through: the one named, else the workspace's
     * default, else the built-in file transport. Instances are cached and
     * rebuilt when their row changed, so pools survive between batches.
     */
    async transportFor(workspaceId: string, transportId?: string | null): Promise<LiveTransport> {
      const row = transportId
        ? await repo.findTransport(db, workspaceId, transportId)
        : await repo.findDefaultTransport(db, workspaceId);
      if (!row) {
        if (transportId) throw notFound();
        return fileFallback(workspaceId);
      }
      const cached = live.get(row.id);
      const version = row.updated_at.getTime();
      if (cached && cached.version === version) return cached.value;
      if (cached) await evict(row.id);
      const value = await build(row);
      // Decrypting the secrets awaited: another caller may have built the same version meanwhile.
      const raced = live.get(row.id);
      if (raced && raced.version === version) {
        value.limiter.close();
        await value.transport.close();
        return raced.value;
      }
      if (raced) await evict(row.id);
      live.set(row.id, { version, value });
      return value;
    },

    /** The stored credentials, for `herald keys rotate-data` (an EncryptedValueSource of data-keys/). */
    // updated_at stays on replace: the plaintext is the same, and live transports need no rebuild.
    encryptedValues: {
      name: 'transports.secrets',
      ...encryptedColumn(db, 'transports', 'secrets', context),
    },

    /** Sends a short plain-text message through the transport and reports what happened. */
    async sendTest(
      workspaceId: string,
      id: string,
      input: { to: string; from: string },
    ): Promise<TestSendResult> {
      const { transport, limiter } = await service.transportFor(workspaceId, id);
      const domain = input.from.split('@')[1] ?? 'herald.invalid';
      const messageId = `<${uuidv7()}@${domain}>`;
      const raw = Buffer.from(
        [
          `From: ${input.from}`,
          `To: ${input.to}`,
          'Subject: Herald transport test',
          `Date: ${clock.now().toUTCString().replace('GMT', '+0000')}`,
          `Message-ID: ${messageId}`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=utf-8',
          'Content-Transfer-Encoding: 7bit',
          '',
          `This is a test message from Herald through transport ${id}.`,
          'If you can read it, the transport works.',
          '',
        ].join('\r\n'),
      );
      const release = await limiter.acquire();
      try {
        const result = await transport.send({
          raw,
          envelope: { from: input.from, to: [input.to] },
          messageId,
        });
        return { delivered: true, message_id: messageId, provider_message_id: result.providerMessageId };
      } catch (error) {
        if (!isTransportError(error)) throw error;
        return {
          delivered: false,
          message_id: messageId,
          error: {
            kind: error.kind,
            code: error.code === undefined ? null : String(error.code),
            message: error.providerMessage,
          },
        };
      } finally {
        release();
      }
    },

    /** Closes every pooled connection; for shutdown. */
    /**
     * A Mailgun transport's domain, API host and key, for reading its events
     * back (CRM connectors' event retrieval). Never leaves the server.
     */
    /** A provider transport's API settings and key, for reading that provider's events and statistics. */
    async providerCredentials(
      workspaceId: string,
      id: string,
      type: 'mailgun' | 'sendgrid',
    ): Promise<{ settings: Record<string, unknown>; baseUrl: string | undefined; apiKey: string }> {
      const row = await repo.findTransport(db, workspaceId, id);
      if (!row)
        throw new DomainError('TRANSPORT_NOT_FOUND', `transport ${id} does not exist in this workspace`);
      if (row.type !== type) {
        throw new DomainError(
          'TRANSPORT_INVALID',
          `transport ${id} is a ${row.type} transport, not ${type}`,
          [{ path: '/transport_id', message: `must name a ${type} transport` }],
        );
      }
      const settings = row.settings as Record<string, unknown>;
      return {
        settings,
        baseUrl: typeof settings.base_url === 'string' ? settings.base_url : undefined,
        // awaited: the secrets may come from an asynchronous key store.
        apiKey: (await readSecrets(row)).api_key ?? '',
      };
    },

    async mailgunCredentials(
      workspaceId: string,
      id: string,
    ): Promise<{ domain: string; baseUrl: string | undefined; apiKey: string }> {
      const { settings, baseUrl, apiKey } = await service.providerCredentials(workspaceId, id, 'mailgun');
      return { domain: String(settings.domain ?? ''), baseUrl, apiKey };
    },

    async closeAll(): Promise<void> {
      await Promise.all([...live.keys()].map((id) => evict(id)));
      for (const value of builtIn.values()) {
        value.limiter.close();
        await value.transport.close();
      }
      builtIn.clear();
    },

    /** Secret names each type accepts, for documentation and errors. */
    secretNames: (type: TransportType) => Object.keys(TRANSPORT_RULES[type].secrets),
  };
  return service;
}

export type TransportService = ReturnType<typeof createTransportService>;

function inUse(
  row: repo.TransportRow,
  users: { id: string; name: string; status: string; transport_id: string | null }[],
  action: 'delete' | 'unset',
): DomainError {
  const listed = users.slice(0, USES_LISTED);
  const names = listed.map((c) => `"${c.name}" (${c.id}, ${c.status})`).join(', ');
  const more = users.length > USES_LISTED ? ' and more' : '';
  const defaultNote = row.is_default
    ? '; campaigns without a transport_id use the default, so make another transport the default first (PATCH is_default: true)'
    : '';
  const what =
    action === 'delete'
      ? `cannot delete transport "${row.name}" (${row.id})`
      : `cannot unset the default flag of transport "${row.name}" (${row.id})`;
  return new DomainError(
    'TRANSPORT_IN_USE',
    `${what}: unfinished campaigns send through it: ${names}${more}; give them a transport_id or cancel them${defaultNote}`,
    listed.map((c) => ({
      path: action === 'delete' ? '/id' : '/is_default',
      campaign_id: c.id,
      campaign_name: c.name,
      campaign_status: c.status,
      message: `${c.status} campaign "${c.name}" (${c.id}) sends through it${c.transport_id === null ? ' as the default' : ''}`,
    })),
  );
}

/**
 * Runs a transaction that may make a transport the default. Two such
 * transactions at once (two creates, or a create and an update) can both
 * clear the old default and then collide on the one-default-per-workspace
 * index; the loser runs again, now seeing (and clearing) the winner's flag, so
 * the last one to commit is the default and nobody gets a 500.
 */
async function defaultRace<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!isUniqueViolation(error, 'transports_workspace_default')) throw error;
      if (attempt >= 5) {
        throw new DomainError(
          'TRANSPORT_DEFAULT_CONFLICT',
          'another request changed the default transport at the same time; try again',
        );
      }
    }
  }
}

function merge<T>(base: Record<string, T>, changes: Record<string, T | null>): Record<string, T> {
  const result: Record<string, T> = { ...base };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete result[key];
    else result[key] = value;
  }
  return result;
}
