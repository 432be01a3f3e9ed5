import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { SETTINGS, type SettingKey, type SettingSpec } from './settings.js';

export interface Config {
  host: string;
  port: number;
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  secretKeys: string | undefined;
  databasePoolSize: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  rateLimitPerMinute: number;
  bodyLimitBytes: number;
  importMaxBytes: number;
  worker: boolean;
  jobConcurrency: number;
  jobPollIntervalMs: number;
  jobLeaseMs: number;
  sendLeaseMs: number;
  dkimThreads: number | undefined;
  attributionWindowHours: number;
  analyticsIntervalMs: number;
  analyticsSettleMs: number;
  trackingFlushIntervalMs: number;
  trackingBatchSize: number;
  trackingMaxBufferedHits: number;
  trackingRateLimitPerMinute: number;
  formRateLimitPerIpPerHour: number;
  formRateLimitPerAddressPerHour: number;
  eventRetentionDays: number;
  eventDedupDays: number;
  eventsRateLimitPerMinute: number;
  shopWebhookRateLimitPerMinute: number;
  eventsBatchMaxBytes: number;
  snsCertUrlPattern: string | undefined;
  snsSubscribeUrlPattern: string | undefined;
  mailgunWebhookMaxAgeSeconds: number;
  sendgridWebhookMaxAgeSeconds: number;
  snsWebhookMaxAgeSeconds: number;
  segmentRefreshIntervalMs: number;
  engagementRefreshIntervalMs: number;
  engagementTrainIntervalMs: number;
  imapPollIntervalMs: number;
  automationTriggerIntervalMs: number;
  segmentFullRefreshMinutes: number;
  dnsServers: string | undefined;
  spfInclude: string | undefined;
  sendingIp: string | undefined;
  bounceMxHost: string | undefined;
  requireVerifiedDomains: boolean;
  oauthAccessTokenTtlSeconds: number;
  oidcLoginTtlSeconds: number;
  cookieSecure: boolean;
  sessionIdleMinutes: number;
  sessionMaxHours: number;
  passwordMinLength: number;
  loginMaxFailures: number;
  loginLockMinutes: number;
  loginRateLimitPerMinute: number;
  invitationDays: number;
  systemFromEmail: string;
  webhooksAllowHttp: boolean;
  webhooksAllowPrivateNetworks: boolean;
  webhooksTimeoutMs: number;
  webhooksRetentionDays: number;
  webhooksBatchSize: number;
  mailchimpBaseUrl: string | undefined;
  mailchimpPageSize: number;
  hubspotBaseUrl: string | undefined;
  crmSyncIntervalMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  /** Environment variables (process.env in production; a plain object in tests). */
  env: Record<string, string | undefined>;
  /** Path of an optional JSON config file; HERALD_CONFIG in env is used when absent. */
  file?: string | undefined;
  /** Values that win over everything else, e.g. from command-line flags. */
  overrides?: Partial<Record<SettingKey, string | number | boolean | undefined>>;
}

/**
 * Reads settings from (lowest to highest precedence) defaults, a JSON config
 * file, environment variables and explicit overrides. Every problem is
 * collected and reported at once, each naming the setting and what it expects.
 */
export function loadConfig(sources: ConfigSources): Config {
  const problems: string[] = [];
  const filePath = sources.file ?? sources.env.HERALD_CONFIG;
  const fileValues = filePath ? readConfigFile(filePath, problems) : {};

  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [SettingKey, SettingSpec][]) {
    const override = sources.overrides?.[key];
    const envValue = sources.env[spec.env];
    let raw: unknown;
    let origin: string;
    if (override !== undefined) {
      raw = override;
      origin = `--${key}`;
    } else if (envValue !== undefined && envValue !== '') {
      raw = envValue;
      origin = spec.env;
    } else if (fileValues[key] !== undefined) {
      raw = fileValues[key];
      origin = `"${key}" in ${filePath} (or ${spec.env})`;
    } else {
      values[key] = spec.default;
      continue;
    }
    const parsed = parseSetting(spec, raw);
    if (parsed.ok) values[key] = parsed.value;
    else problems.push(`${origin}: ${parsed.problem} (got ${JSON.stringify(raw)})`);
  }
  for (const key of Object.keys(fileValues)) {
    if (!(key in SETTINGS)) problems.push(`"${key}" in ${filePath} is not a Herald setting`);
  }
  if (typeof values.dnsServers === 'string') {
    const bad = dnsServerProblem(values.dnsServers);
    if (bad) problems.push(`HERALD_DNS_SERVERS: ${bad}`);
  }
  if (typeof values.sendingIp === 'string' && isIP(values.sendingIp) === 0)
    problems.push(
      `HERALD_SENDING_IP: expected an IPv4 or IPv6 address (got ${JSON.stringify(values.sendingIp)})`,
    );
  if (typeof values.systemFromEmail === 'string' && !/^[^\s@<>"]+@[^\s@<>"]+$/.test(values.systemFromEmail))
    problems.push(
      `HERALD_SYSTEM_FROM_EMAIL: expected an email address such as herald@mail.example.com (got ${JSON.stringify(values.systemFromEmail)})`,
    );
  if (problems.length > 0) throw new ConfigError(problems);

  values.publicUrl = String(values.publicUrl ?? `http://localhost:${values.port}`).replace(/\/+$/, '');
  values.systemFromEmail ??= `herald@${new URL(String(values.publicUrl)).hostname}`;
  values.dataDir = resolve(String(values.dataDir));
  // A session cookie marked Secure never reaches a plain-HTTP Herald, so sign-in would silently fail there.
  values.cookieSecure ??= !String(values.publicUrl).startsWith('http://');
  return values as unknown as Config;
}

function readConfigFile(path: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`config file ${path} cannot be read: ${(error as Error).message}`);
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`config file ${path} must hold a JSON object`);
      return {};
    }
    return parsed as Record<string, unknown>;
  } catch (error) {
    problems.push(`config file ${path} is not valid JSON: ${(error as Error).message}`);
    return {};
  }
}

type Parsed = { ok: true; value: unknown } | { ok: false; problem: string };

function parseSetting(spec: SettingSpec, raw: unknown): Parsed {
  const text = String(raw).trim();
  switch (spec.type) {
    case 'string':
      return text === '' ? { ok: false, problem: 'expected a non-empty string' } : { ok: true, value: text };
    case 'integer': {
      if (!/^-?\d+$/.test(text)) return { ok: false, problem: 'expected a whole number' };
      const value = Number(text);
      if (spec.min !== undefined && value < spec.min)
        return { ok: false, problem: `expected at least ${spec.min}` };
      if (spec.max !== undefined && value > spec.max)
        return { ok: false, problem: `expected at most ${spec.max}` };
      return { ok: true, value };
    }
    case 'boolean':
      if (['true', '1', 'yes', 'on'].includes(text.toLowerCase())) return { ok: true, value: true };
      if (['false', '0', 'no', 'off'].includes(text.toLowerCase())) return { ok: true, value: false };
      return { ok: false, problem: 'expected true or false' };
    case 'url':
      try {
        new URL(text);
        return { ok: true, value: text };
      } catch {
        return { ok: false, problem: 'expected an absolute URL' };
      }
    case 'enum':
      return spec.values?.includes(text)
        ? { ok: true, value: text }
        : { ok: false, problem: `expected one of ${spec.values?.join(', ')}` };
  }
}

/** node:dns takes `ip`, `ip:port` and `[ipv6]:port`; host names are not accepted there. */
function dnsServerProblem(value: string): string | undefined {
  for (const entry of value.split(',').map((e) => e.trim())) {
    const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:]+)(?::(\d+))?$/.exec(entry);
    const host = match?.[1] ?? entry;
    const port = match?.[2];
    if (isIP(host) === 0 && !(isIP(entry) === 6))
      return `"${entry}" is not an IP address with an optional port: use e.g. 127.0.0.1:5353 or [::1]:53, comma-separated`;
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
      return `"${entry}" has an invalid port`;
  }
  return undefined;
}
