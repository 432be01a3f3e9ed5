import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { type Db, encryptedColumn } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import {
  createDomainKey,
  type DkimAlgorithm,
  type DomainKey,
  dkimDnsRecord,
  dkimPublicKeyValue,
} from '../../mail/dkim.js';
import type { DkimSigningPool } from '../../mail/dkim-pool.js';
import type { DnsLookup } from './dns-resolver.js';
import { checkDomain, type DomainCheck } from './domain-check.js';
import {
  domainAndParents,
  isValidSelector,
  normalizeDomain,
  returnPathDomainProblem,
} from './domain-name.js';
import { type AuthenticationSettings, type DnsRecordToPublish, recordsToPublish } from './domain-records.js';
import * as repo from './sending-domains.repository.js';

export interface SendingDomain {
  id: string;
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  dns_record: { name: string; type: 'TXT'; value: string };
  dns_records: DnsRecordToPublish[];
  status: 'pending' | 'verified' | 'failed';
  allow_unverified: boolean;
  /** The envelope sender's domain for mail this domain signs; null: the From domain. */
  return_path_domain: string | null;
  checked_at: Date | null;
  last_check: DomainCheck | null;
  created_at: Date;
}

export interface SendingDomainInput {
  domain: string;
  selector?: string | undefined;
  algorithm?: DkimAlgorithm | undefined;
  /** An existing PEM private key to import instead of generating one. */
  private_key?: string | undefined;
  /** The Return-Path (bounce) domain: a subdomain of `domain` or one sharing its organizational domain. */
  return_path_domain?: string | null | undefined;
}

export interface SendingDomainChanges {
  allow_unverified?: boolean | undefined;
  /** null clears it: the Return-Path goes back to the From domain. */
  return_path_domain?: string | null | undefined;
}

/** Signs messages for one sending domain with its pre-parsed key. */
export interface DkimSigner {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  key: DomainKey;
  /**
   * The domain of the envelope sender (b-<token>@...) for mail this domain
   * signs, when it has a dedicated Return-Path domain; undefined: use the
   * From domain.
   */
  returnPathDomain: string | undefined;
  /** The message with its DKIM-Signature prepended; the private-key step runs on the signing pool. */
  sign(raw: Buffer): Promise<Buffer>;
}

export const DEFAULT_SELECTOR = 'herald';
/** How long a process keeps a parsed key, so a domain deleted elsewhere stops signing soon after. */
const SIGNER_TTL_MS = 60_000;

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * Field encryption with the workspace's data keys; values in the older
 * master-key format still decrypt. Implemented by the data-keys module.
 */
export interface SecretCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
}

export interface SendingDomainServiceDeps {
  db: Db;
  clock: Clock;
  /** Encrypts private keys with the workspace's data key (the data-keys module's WorkspaceCipher). */
  cipher: SecretCipher;
  /** Where signatures are computed: worker threads, or inline with `threads: 0`. */
  signing: DkimSigningPool;
  /** How the check resolves names (HERALD_DNS_SERVERS, else the system resolver). */
  dns: DnsLookup;
  /** Herald's SPF include, sending IP and bounce host, for the records and the check. */
  authentication: AuthenticationSettings;
  /** HERALD_REQUIRE_VERIFIED_DOMAINS: refuse every From domain that is not a verified sending domain. */
  requireVerified: boolean;
}

export function createSendingDomainService(deps: SendingDomainServiceDeps) {
  const { db, clock, cipher } = deps;
  const signers = new Map<string, { signer: DkimSigner | undefined; loadedAt: number }>();
  const context = (id: string) => `sending_domains:${id}`;

  function toSendingDomain(row: repo.SendingDomainRow): SendingDomain {
    return {
      id: row.id,
      domain: row.domain,
      selector: row.selector,
      algorithm: row.algorithm,
      dns_record: dkimDnsRecord(row.selector, row.domain, row.algorithm, row.public_key),
      dns_records: recordsToPublish(row, deps.authentication),
      status: row.status,
      allow_unverified: row.allow_unverified,
      return_path_domain: row.return_path_domain,
      checked_at: row.checked_at,
      last_check: (row.last_check as DomainCheck | null) ?? null,
      created_at: row.created_at,
    };
  }

  function toSigner(key: DomainKey, returnPathDomain: string | null): DkimSigner {
    return {
      domain: key.domain,
      selector: key.selector,
      algorithm: key.algorithm,
      key,
      returnPathDomain: returnPathDomain ?? undefined,
      sign: (raw) => deps.signing.sign(raw, key, { signedAt: clock.now() }),
    };
  }

  return {
    async create(workspaceId: string, input: SendingDomainInput): Promise<SendingDomain> {
      const normalized = normalizeDomain(input.domain);
      if ('error' in normalized) {
        throw new DomainError('INVALID_DOMAIN', `domain: ${normalized.error}`, [
          { path: '/domain', message: normalized.error },
        ]);
      }
      const returnPathDomain =
        input.return_path_domain == null
          ? null
          : validReturnPathDomain(input.return_path_domain, normalized.domain);
      const selector = (input.selector ?? DEFAULT_SELECTOR).toLowerCase();
      if (!isValidSelector(selector)) {
        throw new DomainError(
          'VALIDATION_FAILED',
          'selector must be a DNS label: letters, digits and inner hyphens, e.g. herald2025',
          [{ path: '/selector', message: 'invalid selector' }],
        );
      }
      const privateKey = input.private_key
        ? importKey(input.private_key, input.algorithm)
        : await generateKey(input.algorithm ?? 'rsa');
      const algorithm: DkimAlgorithm = privateKey.asymmetricKeyType === 'ed25519' ? 'ed25519' : 'rsa';

      const id = uuidv7();
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const row = await repo.insertDomain(db, {
        id,
        workspace_id: workspaceId,
        domain: normalized.domain,
        selector,
        algorithm,
        private_key_encrypted: await cipher.encrypt(workspaceId, context(id), pem),
        public_key: dkimPublicKeyValue(privateKey),
        return_path_domain: returnPathDomain,
        created_at: clock.now(),
      });
      if (!row) {
        throw new DomainError(
          'SENDING_DOMAIN_EXISTS',
          `this workspace already has the sending domain ${normalized.domain}; delete it first to replace its key`,
        );
      }
      signers.clear();
      return toSendingDomain(row);
    },

    async list(workspaceId: string, page: { cursor?: string | undefined; limit: number }) {
      const rows = await repo.listDomains(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(rows.map(toSendingDomain), page.limit) as Page<SendingDomain>;
    },

    async get(workspaceId: string, id: string): Promise<SendingDomain> {
      const row = await repo.findDomain(db, workspaceId, id);
      if (!row) throw notFound(id);
      return toSendingDomain(row);
    },

    /**
     * Looks up the domain's SPF, DKIM, DMARC, MX (and the sending IP's PTR)
     * and stores the result. The status changes only when the check is
     * conclusive: a DNS timeout does not make a verified domain failed.
     */
    async check(workspaceId: string, id: string, input: { from_email?: string | undefined } = {}) {
      const row = await repo.findDomain(db, workspaceId, id);
      if (!row) throw notFound(id);
      let fromDomain = row.domain;
      if (input.from_email !== undefined) {
        const at = input.from_email.lastIndexOf('@');
        const normalized = normalizeDomain(at < 0 ? '' : input.from_email.slice(at + 1));
        if (at <= 0 || 'error' in normalized) {
          throw new DomainError(
            'VALIDATION_FAILED',
            `from_email ${JSON.stringify(input.from_email)} is not an address with a domain, e.g. news@${row.domain}`,
            [{ path: '/from_email', message: 'expected name@domain' }],
          );
        }
        fromDomain = normalized.domain;
      }
      const result = await checkDomain(deps.dns, row, deps.authentication, fromDomain, clock.now());
      const updated = await repo.recordCheck(db, workspaceId, id, {
        status: result.status === 'inconclusive' ? undefined : result.status,
        checkedAt: new Date(result.checked_at),
        result: result as unknown as Record<string, unknown>,
      });
      if (!updated) throw notFound(id);
      return toSendingDomain(updated);
    },

    /**
     * Changes allow_unverified and the Return-Path domain. Messages use a
     * new Return-Path domain at once in this process and within a minute
     * (the signer cache) in the others; a campaign already sending keeps the
     * one it was prepared with.
     */
    async update(workspaceId: string, id: string, changes: SendingDomainChanges) {
      const set: { allow_unverified?: boolean; return_path_domain?: string | null } = {};
      if (changes.allow_unverified !== undefined) set.allow_unverified = changes.allow_unverified;
      if (changes.return_path_domain !== undefined) {
        const current = await repo.findDomain(db, workspaceId, id);
        if (!current) throw notFound(id);
        set.return_path_domain =
          changes.return_path_domain === null
            ? null
            : validReturnPathDomain(changes.return_path_domain, current.domain);
      }
      if (Object.keys(set).length === 0) {
        throw new DomainError(
          'VALIDATION_FAILED',
          'nothing to change: send allow_unverified, return_path_domain or both',
        );
      }
      const row = await repo.updateDomain(db, workspaceId, id, set);
      if (!row) throw notFound(id);
      if (set.return_path_domain !== undefined) signers.clear();
      return toSendingDomain(row);
    },

    /**
     * Refuses mail from an address whose sending domain (the From domain's
     * registered domain or closest parent, the one that would sign it) failed
     * its last check, unless that domain allows unverified sending. With
     * requireVerified, every domain must be a verified sending domain. A
     * domain never added or never checked sends as before: most first sends
     * (and Herald's own tests) use domains nobody has published records for.
     */
    async assertMaySendFrom(workspaceId: string, fromEmail: string): Promise<void> {
      const domain = fromEmail.slice(fromEmail.lastIndexOf('@') + 1);
      const normalized = normalizeDomain(domain);
      if ('error' in normalized) return; // the caller's own address validation reports it
      const row = await repo.findDomainByNames(db, workspaceId, domainAndParents(normalized.domain));
      if (row?.allow_unverified || row?.status === 'verified') return;
      if (!row) {
        if (!deps.requireVerified) return;
        throw new DomainError(
          'SENDING_DOMAIN_UNVERIFIED',
          `mail from ${fromEmail} is refused: this Herald requires verified sending domains (HERALD_REQUIRE_VERIFIED_DOMAINS) and ${normalized.domain} is not one; add it with POST /v1/sending-domains, publish its records and run POST /v1/sending-domains/{id}/check`,
          [{ path: '/from_email', message: 'not a verified sending domain' }],
        );
      }
      if (row.status === 'pending' && !deps.requireVerified) return;
      const failing = ((row.last_check as DomainCheck | null)?.items ?? [])
        .filter((i) => ['spf', 'dkim', 'dmarc'].includes(i.check) && !['pass', 'warn'].includes(i.status))
        .map((i) => `${i.check.toUpperCase()}: ${i.message}`);
      const why =
        row.status === 'pending'
          ? 'has not been checked yet'
          : `failed its last check${failing.length > 0 ? ` (${failing.join('; ')})` : ''}`;
      throw new DomainError(
        'SENDING_DOMAIN_UNVERIFIED',
        `mail from ${fromEmail} is refused: the sending domain ${row.domain} ${why}; fix its DNS records and run POST /v1/sending-domains/${row.id}/check, or allow sending anyway with PATCH /v1/sending-domains/${row.id} {"allow_unverified": true}`,
        [{ path: '/from_email', message: `sending domain ${row.domain} is not verified` }],
      );
    },

    async remove(workspaceId: string, id: string): Promise<void> {
      if (!(await repo.deleteDomain(db, workspaceId, id))) throw notFound(id);
      signers.clear();
    },

    /** The stored private keys, for `herald keys rotate-data` (an EncryptedValueSource of data-keys/). */
    encryptedValues: {
      name: 'sending_domains.private_key',
      ...encryptedColumn(db, 'sending_domains', 'private_key_encrypted', context),
    },

    /**
     * The signer for mail from `domain` (the From address's domain): the
     * workspace's sending domain of that name, or of its closest parent (a
     * parent's signature aligns under relaxed DMARC alignment). Undefined when
     * the workspace has none. The key is decrypted and parsed once, then cached.
     */
    async signerFor(workspaceId: string, domain: string): Promise<DkimSigner | undefined> {
      const normalized = normalizeDomain(domain);
      if ('error' in normalized) return undefined;
      const cacheKey = `${workspaceId}|${normalized.domain}`;
      const now = clock.now().getTime();
      const cached = signers.get(cacheKey);
      if (cached && now - cached.loadedAt < SIGNER_TTL_MS) return cached.signer;

      const row = await repo.findDomainByNames(db, workspaceId, domainAndParents(normalized.domain));
      const signer = row
        ? toSigner(
            createDomainKey({
              domain: row.domain,
              selector: row.selector,
              privateKeyPem: await cipher.decrypt(workspaceId, context(row.id), row.private_key_encrypted),
            }),
            row.return_path_domain,
          )
        : undefined;
      signers.set(cacheKey, { signer, loadedAt: now });
      return signer;
    },
  };
}

export type SendingDomainService = ReturnType<typeof createSendingDomainService>;

async function generateKey(algorithm: DkimAlgorithm): Promise<KeyObject> {
  // Asynchronous: an RSA-2048 key takes up to a few hundred milliseconds to find.
  const pair =
    algorithm === 'rsa'
      ? await generateKeyPairAsync('rsa', { modulusLength: 2048 })
      : await generateKeyPairAsync('ed25519');
  return pair.privateKey;
}

function importKey(pem: string, algorithm: DkimAlgorithm | undefined): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw invalidKey('private_key is not a PEM private key (PKCS#8 or PKCS#1, unencrypted)');
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') {
    throw invalidKey(`private_key is a ${type} key; DKIM keys are RSA or Ed25519`);
  }
  if (algorithm && algorithm !== type) {
    throw invalidKey(
      `private_key is an ${type} key but algorithm is ${algorithm}; omit algorithm or match it`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (type === 'rsa' && (bits < 1024 || bits > 4096)) {
    throw invalidKey(`the RSA key has ${bits} bits; use 2048 (1024 to 4096 are accepted)`);
  }
  return key;
}

/** The normalized Return-Path domain, or a 400 naming return_path_domain and what is wrong. */
function validReturnPathDomain(input: string, sendingDomain: string): string {
  const invalid = (message: string) =>
    new DomainError('INVALID_DOMAIN', `return_path_domain: ${message}`, [
      { path: '/return_path_domain', message },
    ]);
  const normalized = normalizeDomain(input);
  if ('error' in normalized) throw invalid(normalized.error);
  const problem = returnPathDomainProblem(normalized.domain, sendingDomain);
  if (problem) throw invalid(problem);
  return normalized.domain;
}

function invalidKey(message: string): DomainError {
  return new DomainError('INVALID_DKIM_KEY', message, [{ path: '/private_key', message }]);
}

function notFound(id: string): DomainError {
  return new DomainError(
    'SENDING_DOMAIN_NOT_FOUND',
    `no sending domain ${id} in this workspace; list them with GET /v1/sending-domains`,
  );
}
