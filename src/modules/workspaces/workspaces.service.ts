import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { isTimeZone } from '../../lib/cron.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { type CreatedApiKey, createApiKeyService } from '../auth/index.js';
import type { HygienePolicy } from '../contacts/index.js';
import * as repo from './workspaces.repository.js';

/**
 * What marketing email a contact may get: at most `per_day` in any 24 hours
 * and `per_week` in any 7 days (campaigns and automations together;
 * transactional email is exempt and not counted), and none during quiet
 * hours in the contact's time zone (the workspace's for contacts without one).
 */
export interface SendingPolicy {
  frequency_caps: { per_day: number | null; per_week: number | null };
  /** Local wall-clock times "HH:MM"; a start after the end spans midnight. */
  quiet_hours: { start: string; end: string } | null;
}

export interface Workspace {
  id: string;
  name: string;
  created_at: Date;
  /** IANA zone of automation schedules and of contacts without a time zone. */
  timezone: string;
  sending_policy: SendingPolicy;
  /** What happens to role addresses, likely typos and disposable domains when contacts are written. */
  hygiene: HygienePolicy;
  /** CAN-SPAM physical postal address shown in every marketing email; null: none set. */
  postal_address: string | null;
  /** Refuse to send or schedule campaigns while no postal address is set. */
  require_postal_address: boolean;
}

/** Longest postal address accepted; the column's check says the same. */
export const POSTAL_ADDRESS_MAX_LENGTH = 500;

export interface WorkspacePatch {
  name?: string | undefined;
  timezone?: string | undefined;
  sending_policy?:
    | {
        frequency_caps?:
          | { per_day?: number | null | undefined; per_week?: number | null | undefined }
          | undefined;
        quiet_hours?: { start: string; end: string } | null | undefined;
      }
    | undefined;
  hygiene?: Partial<HygienePolicy> | undefined;
  postal_address?: string | null | undefined;
  require_postal_address?: boolean | undefined;
}

/**
 * Why a postal address cannot be stored, or undefined when it can. Liquid
 * delimiters are refused: the footer copies the address into the template
 * source, where they would be run as Liquid.
 */
function postalAddressProblem(address: string): string | undefined {
  if (address.length > POSTAL_ADDRESS_MAX_LENGTH)
    return `postal_address must be at most ${POSTAL_ADDRESS_MAX_LENGTH} characters (it has ${address.length})`;
  if (/\{\{|\{%|\}\}|%\}/.test(address))
    return 'postal_address must not contain Liquid delimiters such as {{ or {%';
  return undefined;
}

/** Line endings made \n and outer blank space removed; empty means none. */
function normalizePostalAddress(address: string): string | null {
  const lines = address
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd());
  const text = lines.join('\n').trim();
  return text === '' ? null : text;
}

const pad = (n: number) => String(n).padStart(2, '0');
const clockText = (minutes: number) => `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;

function parseClock(text: string): number | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

function toWorkspace(row: repo.WorkspaceRow): Workspace {
  return {
    id: row.id,
    name: row.name,
    created_at: row.created_at,
    timezone: row.timezone,
    sending_policy: {
      frequency_caps: { per_day: row.max_marketing_per_day, per_week: row.max_marketing_per_week },
      quiet_hours:
        row.quiet_hours_start === null || row.quiet_hours_end === null
          ? null
          : { start: clockText(row.quiet_hours_start), end: clockText(row.quiet_hours_end) },
    },
    hygiene: {
      role_accounts: row.hygiene_role_accounts,
      typos: row.hygiene_typos,
      disposable: row.hygiene_disposable,
      mx_check: row.hygiene_mx_check,
    },
    postal_address: row.postal_address,
    require_postal_address: row.require_postal_address,
  };
}

export function createWorkspaceService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  async function get(id: string): Promise<Workspace> {
    const row = await repo.findWorkspace(db, id);
    if (!row) throw new DomainError('WORKSPACE_NOT_FOUND', `workspace ${id} does not exist`);
    return toWorkspace(row);
  }

  return {
    /**
     * Refuses to send marketing email while the workspace requires a postal
     * address (require_postal_address) and has none. Test sends are not refused.
     */
    async assertPostalAddress(id: string): Promise<void> {
      const workspace = await get(id);
      if (workspace.require_postal_address && workspace.postal_address === null)
        throw new DomainError(
          'POSTAL_ADDRESS_REQUIRED',
          'the workspace requires a postal address in marketing email (CAN-SPAM) but has none: set postal_address with PATCH /v1/workspace, or turn require_postal_address off',
          [{ path: '/postal_address', message: 'not set' }],
        );
    },

    async create(name: string): Promise<Workspace> {
      const now = clock.now();
      const id = uuidv7(now.getTime());
      await repo.insertWorkspace(db, { id, name, created_at: now });
      return get(id);
    },

    get,

    async list(): Promise<Workspace[]> {
      return (await repo.listWorkspaces(db)).map(toWorkspace);
    },

    /** Changes name, time zone or sending policy; every problem is reported at once and nothing changes. */
    async update(id: string, patch: WorkspacePatch): Promise<Workspace> {
      const errors: ErrorDetail[] = [];
      const changes: Parameters<typeof repo.updateWorkspace>[2] = {};
      if (patch.name !== undefined) {
        if (patch.name.trim() === '') errors.push({ path: '/name', message: 'name must not be empty' });
        else changes.name = patch.name.trim();
      }
      if (patch.timezone !== undefined) {
        if (!isTimeZone(patch.timezone))
          errors.push({
            path: '/timezone',
            message: `"${patch.timezone}" is not an IANA time zone such as Europe/Berlin`,
          });
        else changes.timezone = patch.timezone;
      }
      const caps = patch.sending_policy?.frequency_caps;
      for (const [field, column] of [
        ['per_day', 'max_marketing_per_day'],
        ['per_week', 'max_marketing_per_week'],
      ] as const) {
        const value = caps?.[field];
        if (value === undefined) continue;
        if (value !== null && (!Number.isInteger(value) || value < 1))
          errors.push({
            path: `/sending_policy/frequency_caps/${field}`,
            message: `${field} must be a whole number of emails of at least 1, or null for no cap`,
          });
        else changes[column] = value;
      }
      const quiet = patch.sending_policy?.quiet_hours;
      if (quiet === null) {
        changes.quiet_hours_start = null;
        changes.quiet_hours_end = null;
      } else if (quiet !== undefined) {
        const start = parseClock(quiet.start);
        const end = parseClock(quiet.end);
        if (start === undefined)
          errors.push({
            path: '/sending_policy/quiet_hours/start',
            message: 'start must be a time "HH:MM" such as "21:00"',
          });
        if (end === undefined)
          errors.push({
            path: '/sending_policy/quiet_hours/end',
            message: 'end must be a time "HH:MM" such as "08:00"',
          });
        if (start !== undefined && start === end)
          errors.push({ path: '/sending_policy/quiet_hours', message: 'start and end must differ' });
        if (start !== undefined && end !== undefined && start !== end) {
          changes.quiet_hours_start = start;
          changes.quiet_hours_end = end;
        }
      }
      // The request schema restricts the values; the service is also called without it.
      const hygiene = patch.hygiene;
      if (hygiene?.role_accounts !== undefined) changes.hygiene_role_accounts = hygiene.role_accounts;
      if (hygiene?.typos !== undefined) changes.hygiene_typos = hygiene.typos;
      if (hygiene?.disposable !== undefined) changes.hygiene_disposable = hygiene.disposable;
      if (hygiene?.mx_check !== undefined) changes.hygiene_mx_check = hygiene.mx_check;
      if (patch.postal_address === null) changes.postal_address = null;
      else if (patch.postal_address !== undefined) {
        const address = normalizePostalAddress(patch.postal_address);
        const problem = address === null ? undefined : postalAddressProblem(address);
        if (problem) errors.push({ path: '/postal_address', message: problem });
        else changes.postal_address = address;
      }
      if (patch.require_postal_address !== undefined)
        changes.require_postal_address = patch.require_postal_address;
      if (errors.length > 0)
        throw new DomainError(
          'VALIDATION_FAILED',
          `the workspace was not changed: ${errors[0]?.message}`,
          errors,
        );
      if (Object.keys(changes).length > 0) await repo.updateWorkspace(db, id, changes);
      return get(id);
    },

    /**
     * On an empty database, creates the default workspace and its first admin
     * key, whose secret is returned so it can be shown once. Safe when several
     * processes start at the same time: exactly one creates them.
     */
    async bootstrap(): Promise<{ workspace: Workspace; adminKey: CreatedApiKey } | undefined> {
      return repo.withBootstrapLock(db, async (trx) => {
        const existing = await repo.listWorkspaces(trx);
        if (existing.length > 0) return undefined;
        const now = clock.now();
        const id = uuidv7(now.getTime());
        await repo.insertWorkspace(trx, { id, name: 'Default', created_at: now });
        const adminKey = await createApiKeyService({ db: trx, clock }).create({
          workspaceId: id,
          name: 'Initial admin key',
          scopes: ['admin'],
        });
        const row = await repo.findWorkspace(trx, id);
        return { workspace: toWorkspace(row as repo.WorkspaceRow), adminKey };
      });
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;
