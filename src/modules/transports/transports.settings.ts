import { join } from 'node:path';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import type { TransportSpec, TransportType } from '../../mail/transports/index.js';

type Field =
  | { kind: 'string'; required?: boolean; pattern?: RegExp; hint?: string }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'boolean' }
  | { kind: 'enum'; values: readonly string[] };

interface TypeRules {
  settings: Record<string, Field>;
  /** Credential names; stored encrypted, never returned. */
  secrets: Record<string, { required: boolean }>;
}

const url: Field = { kind: 'string', pattern: /^https?:\/\/\S+$/, hint: 'an https URL' };

/** What each transport type accepts. Everything else is refused by name, so typos surface. */
export const TRANSPORT_RULES: Record<TransportType, TypeRules> = {
  smtp: {
    settings: {
      host: {
        kind: 'string',
        required: true,
        pattern: /^[A-Za-z0-9.:[\]-]+$/,
        hint: 'a host name or IP address',
      },
      port: { kind: 'integer', min: 1, max: 65535 },
      tls: { kind: 'enum', values: ['starttls', 'implicit', 'none'] },
      user: { kind: 'string' },
      max_connections: { kind: 'integer', min: 1, max: 100 },
      max_messages: { kind: 'integer', min: 1, max: 100_000 },
      tls_reject_unauthorized: { kind: 'boolean' },
      timeout_ms: { kind: 'integer', min: 1_000, max: 300_000 },
    },
    secrets: { password: { required: false } },
  },
  ses: {
    settings: {
      region: {
        kind: 'string',
        required: true,
        pattern: /^[a-z]{2}(-[a-z]+)+-\d$/,
        hint: 'an AWS region such as eu-west-1',
      },
      access_key_id: {
        kind: 'string',
        required: true,
        pattern: /^[A-Z0-9]{16,128}$/,
        hint: 'an AWS access key id',
      },
      endpoint: url,
      configuration_set: { kind: 'string' },
      timeout_ms: { kind: 'integer', min: 1_000, max: 300_000 },
    },
    secrets: { secret_access_key: { required: true } },
  },
  mailgun: {
    settings: {
      domain: {
        kind: 'string',
        required: true,
        pattern: /^[A-Za-z0-9.-]+$/,
        hint: 'your Mailgun sending domain',
      },
      base_url: url,
      timeout_ms: { kind: 'integer', min: 1_000, max: 300_000 },
    },
    secrets: { api_key: { required: true } },
  },
  sendgrid: {
    settings: { base_url: url, timeout_ms: { kind: 'integer', min: 1_000, max: 300_000 } },
    secrets: { api_key: { required: true } },
  },
  postmark: {
    settings: {
      message_stream: { kind: 'string' },
      base_url: url,
      timeout_ms: { kind: 'integer', min: 1_000, max: 300_000 },
    },
    secrets: { server_token: { required: true } },
  },
  file: {
    settings: {
      subfolder: { kind: 'string', pattern: /^[A-Za-z0-9_-]{1,64}$/, hint: 'letters, digits, _ and - only' },
    },
    secrets: {},
  },
};

/** Checks settings and secrets for a type; throws TRANSPORT_INVALID naming every problem. */
export function validateTransportConfig(
  type: TransportType,
  settings: Record<string, unknown>,
  secrets: Record<string, string>,
): void {
  const rules = TRANSPORT_RULES[type];
  const problems: ErrorDetail[] = [];
  for (const [name, value] of Object.entries(settings)) {
    const field = rules.settings[name];
    const path = `/settings/${name}`;
    if (!field) {
      problems.push({
        path,
        message: `${type} transports have no setting "${name}"; known: ${Object.keys(rules.settings).join(', ') || 'none'}`,
      });
      continue;
    }
    if (field.kind === 'string') {
      if (typeof value !== 'string' || value.length === 0 || value.length > 500)
        problems.push({ path, message: 'must be a non-empty string' });
      else if (field.pattern && !field.pattern.test(value))
        problems.push({ path, message: `must be ${field.hint ?? 'valid'}` });
    } else if (field.kind === 'integer') {
      if (!Number.isInteger(value) || (value as number) < field.min || (value as number) > field.max) {
        problems.push({ path, message: `must be an integer from ${field.min} to ${field.max}` });
      }
    } else if (field.kind === 'boolean') {
      if (typeof value !== 'boolean') problems.push({ path, message: 'must be true or false' });
    } else if (!field.values.includes(value as string)) {
      problems.push({ path, message: `must be one of ${field.values.join(', ')}` });
    }
  }
  for (const [name, field] of Object.entries(rules.settings)) {
    if (field.kind === 'string' && field.required && settings[name] === undefined) {
      problems.push({
        path: `/settings/${name}`,
        message: `${type} transports need "${name}" (${field.hint ?? 'a string'})`,
      });
    }
  }
  for (const name of Object.keys(secrets)) {
    if (!rules.secrets[name]) {
      problems.push({
        path: `/secrets/${name}`,
        message: `${type} transports have no secret "${name}"; known: ${Object.keys(rules.secrets).join(', ') || 'none'}`,
      });
    }
  }
  for (const [name, rule] of Object.entries(rules.secrets)) {
    if (rule.required && !secrets[name])
      problems.push({ path: `/secrets/${name}`, message: `${type} transports need the secret "${name}"` });
  }
  if (type === 'smtp' && settings.user !== undefined && !secrets.password) {
    problems.push({ path: '/secrets/password', message: 'smtp with a user needs secrets.password' });
  }
  for (const key of ['base_url', 'endpoint']) {
    const value = settings[key];
    if (
      typeof value === 'string' &&
      /^http:/.test(value) &&
      !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(value)
    ) {
      problems.push({
        path: `/settings/${key}`,
        message: 'must use https (plain http only for 127.0.0.1/localhost)',
      });
    }
  }
  if (problems.length > 0) {
    throw new DomainError(
      'TRANSPORT_INVALID',
      `the ${type} transport settings are invalid: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
      problems,
    );
  }
}

/** Turns stored settings and decrypted secrets into what src/mail/transports builds. */
export function toTransportSpec(
  type: TransportType,
  settings: Record<string, unknown>,
  secrets: Record<string, string>,
  outboxFolder: string,
): TransportSpec {
  const s = settings as Record<string, string | number | boolean | undefined>;
  const str = (key: string) => (typeof s[key] === 'string' ? (s[key] as string) : undefined);
  const num = (key: string) => (typeof s[key] === 'number' ? (s[key] as number) : undefined);
  switch (type) {
    case 'smtp': {
      const tls = (str('tls') ?? 'starttls') as 'starttls' | 'implicit' | 'none';
      return {
        type,
        host: str('host') ?? '',
        port: num('port') ?? (tls === 'implicit' ? 465 : 587),
        tls,
        user: str('user'),
        password: secrets.password,
        maxConnections: num('max_connections') ?? 5,
        maxMessages: num('max_messages') ?? 100,
        rejectUnauthorized: s.tls_reject_unauthorized !== false,
        timeoutMs: num('timeout_ms'),
      };
    }
    case 'ses':
      return {
        type,
        region: str('region') ?? '',
        accessKeyId: str('access_key_id') ?? '',
        secretAccessKey: secrets.secret_access_key ?? '',
        endpoint: str('endpoint'),
        configurationSetName: str('configuration_set'),
        timeoutMs: num('timeout_ms'),
      };
    case 'mailgun':
      return {
        type,
        domain: str('domain') ?? '',
        apiKey: secrets.api_key ?? '',
        baseUrl: str('base_url'),
        timeoutMs: num('timeout_ms'),
      };
    case 'sendgrid':
      return { type, apiKey: secrets.api_key ?? '', baseUrl: str('base_url'), timeoutMs: num('timeout_ms') };
    case 'postmark':
      return {
        type,
        serverToken: secrets.server_token ?? '',
        messageStream: str('message_stream'),
        baseUrl: str('base_url'),
        timeoutMs: num('timeout_ms'),
      };
    case 'file': {
      const sub = str('subfolder');
      return { type, folder: sub ? join(outboxFolder, sub) : outboxFolder };
    }
  }
}
