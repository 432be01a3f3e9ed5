import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { SecretKeyring } from '../../lib/secret-keys.js';
import type { AttributeService } from '../attributes/index.js';
import { normalizeEmail } from '../contacts/index.js';
import { currentErasedKey, erasedKeysFor } from './erased-address.js';
import { ERASURE_STEPS, type ErasureTarget, eraseEverywhere } from './erasure.repository.js';
import * as repo from './privacy.repository.js';

export interface PrivacyServiceDeps {
  db: Db;
  clock: Clock;
  keyring: SecretKeyring;
  /** Decrypts sensitive attribute values, so the person receives what Herald holds in readable form. */
  attributes?: Pick<AttributeService, 'reveal'> | undefined;
}

export type PersonRef = { id: string } | { email: string };

export interface ErasureReceipt {
  id: string;
  erased_at: Date;
  reason: string;
  /** Whether a contact row existed (erasure by email also clears bounces and suppressions of an address with none). */
  contact_found: boolean;
  /** Rows deleted (or anonymized) per kind of data; zeros included, so the receipt shows what was looked at. */
  counts: Record<string, number>;
  total: number;
}

export interface DataExport {
  generated_at: Date;
  profile: Record<string, unknown>;
  list_memberships: Record<string, unknown>[];
  consent_records: Record<string, unknown>[];
  campaign_sends: Record<string, unknown>[];
  messages: Record<string, unknown>[];
  automation_runs: Record<string, unknown>[];
  events: Record<string, unknown>[];
  anonymous_ids: Record<string, unknown>[];
  tracking_hits: Record<string, unknown>[];
  conversions: Record<string, unknown>[];
  bounce_events: Record<string, unknown>[];
  suppressions: Record<string, unknown>[];
  segment_memberships: Record<string, unknown>[];
  engagement: Record<string, unknown>[];
}

/** The kinds an erasure receipt counts, in the order they are erased. */
export const ERASURE_KINDS = [...new Set(ERASURE_STEPS.map((s) => s.kind))];

/** The address as contacts.email_key stores it, or a clear refusal. */
function emailKeyOf(input: string): string {
  const checked = normalizeEmail(input);
  if (!checked.ok)
    throw new DomainError('INVALID_EMAIL', `email: ${checked.reason}`, [
      { path: '/email', message: checked.reason },
    ]);
  return checked.email.toLowerCase();
}

export function createPrivacyService(deps: PrivacyServiceDeps) {
  const { db, clock, keyring } = deps;

  function notFound(ref: PersonRef): DomainError {
    return 'id' in ref
      ? new DomainError('CONTACT_NOT_FOUND', `contact ${ref.id} not found`)
      : new DomainError('CONTACT_NOT_FOUND', 'no contact with this email in the workspace', [
          { path: '/email', message: 'no contact has this address' },
        ]);
  }

  async function findPerson(trx: Db, workspaceId: string, ref: PersonRef, lock = false) {
    return 'id' in ref
      ? repo.findPerson(trx, workspaceId, { id: ref.id }, lock)
      : repo.findPerson(trx, workspaceId, { emailKey: emailKeyOf(ref.email) }, lock);
  }

  async function revealProfile<T>(workspaceId: string, profile: T): Promise<T> {
    if (!deps.attributes || typeof profile !== 'object' || profile === null) return profile;
    const attributes = (profile as { attributes?: unknown }).attributes;
    if (typeof attributes !== 'object' || attributes === null) return profile;
    return {
      ...profile,
      attributes: await deps.attributes.reveal(workspaceId, attributes as Record<string, unknown>),
    };
  }

  return {
    /** Everything Herald holds about one person (GDPR art. 15, CCPA right to know), as one document. */
    async exportData(workspaceId: string, ref: PersonRef): Promise<DataExport> {
      const person = await findPerson(db, workspaceId, ref);
      if (!person) throw notFound(ref);
      const stored = await repo.exportProfile(db, workspaceId, person.id);
      if (!stored) throw notFound(ref);
      const profile = await revealProfile(workspaceId, stored);
      const records = await repo.exportRecords(db, workspaceId, person);
      return {
        generated_at: clock.now(),
        profile,
        list_memberships: records.list_memberships ?? [],
        consent_records: records.consent_records ?? [],
        campaign_sends: records.campaign_sends ?? [],
        messages: records.messages ?? [],
        automation_runs: records.automation_runs ?? [],
        events: records.events ?? [],
        anonymous_ids: records.anonymous_ids ?? [],
        tracking_hits: records.tracking_hits ?? [],
        conversions: records.conversions ?? [],
        bounce_events: records.bounce_events ?? [],
        suppressions: records.suppressions ?? [],
        segment_memberships: records.segment_memberships ?? [],
        engagement: records.engagement ?? [],
      };
    },

    /**
     * Deletes the person's personal data everywhere in one transaction and
     * leaves only the HMAC entry on the suppression list. By id the contact
     * must exist; by email the erasure also runs without one (an address
     * that only bounced, or was suppressed, or a repeated request).
     */
    async erase(
      workspaceId: string,
      ref: PersonRef,
      input: { reason: string; requestedBy: string | null },
    ): Promise<ErasureReceipt> {
      const reason = input.reason.trim();
      if (reason === '')
        throw new DomainError(
          'VALIDATION_FAILED',
          'reason must say why the data is erased, e.g. "GDPR art. 17 request"',
          [{ path: '/reason', message: 'must not be blank' }],
        );
      const emailKey = 'email' in ref ? emailKeyOf(ref.email) : undefined;
      return db.transaction().execute(async (trx) => {
        const person = await findPerson(trx, workspaceId, ref, true);
        if (!person && 'id' in ref) throw notFound(ref);
        const target: ErasureTarget = {
          workspaceId,
          contactId: person?.id ?? null,
          externalId: person?.external_id ?? null,
          emailKey: person?.email_key ?? (emailKey as string),
        };
        const counts = await eraseEverywhere(trx, target);
        const now = clock.now();
        await repo.insertErasedEntry(
          trx,
          workspaceId,
          currentErasedKey(keyring, workspaceId, target.emailKey),
          input.requestedBy,
          now,
        );
        const receipt = {
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          reason,
          requested_by: input.requestedBy,
          counts,
          erased_at: now,
        };
        await repo.insertReceipt(trx, receipt);
        return {
          id: receipt.id,
          erased_at: now,
          reason,
          contact_found: person !== undefined,
          counts,
          total: Object.values(counts).reduce((a, b) => a + b, 0),
        };
      });
    },

    /**
     * The contacts module's port: which of these addresses (as email_key) were
     * erased in the workspace. Asked before a contact is created.
     */
    async erasedAmong(workspaceId: string, emailKeys: string[], trx: Db = db): Promise<Set<string>> {
      const byKey = new Map<string, string>();
      for (const emailKey of new Set(emailKeys))
        for (const key of erasedKeysFor(keyring, workspaceId, emailKey)) byKey.set(key, emailKey);
      const present = await repo.erasedKeysPresent(trx, workspaceId, [...byKey.keys()]);
      return new Set([...present].map((key) => byKey.get(key) as string));
    },

    /**
     * For the CSV import: a synchronous check per row, from the workspace's
     * erased entries read once (an import checks every row, so no query per row).
     */
    async erasedMatcher(workspaceId: string): Promise<(emailKey: string) => boolean> {
      const keys = await repo.erasedKeysOf(db, workspaceId);
      if (keys.size === 0) return () => false;
      return (emailKey) => erasedKeysFor(keyring, workspaceId, emailKey).some((key) => keys.has(key));
    },
  };
}

export type PrivacyService = ReturnType<typeof createPrivacyService>;
