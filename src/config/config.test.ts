import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { SETTINGS } from './settings.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function configFile(content: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('uses the defaults when nothing is set', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      databaseUrl: undefined,
      dataDir: resolve('./data'),
      logLevel: 'info',
      worker: true,
      jobConcurrency: 2,
    });
    // Every other setting gets the default its table row states.
    for (const [key, spec] of Object.entries(SETTINGS)) {
      if (key === 'dataDir' || !('default' in spec)) continue;
      expect(config[key as keyof typeof config], key).toBe(spec.default);
    }
  });

  it('takes the file over defaults, the environment over the file, and overrides over both', () => {
    const file = configFile({
      port: 4000,
      logLevel: 'debug',
      worker: false,
      publicUrl: 'https://mail.example.com/',
    });
    const env = { HERALD_PORT: '5000', HERALD_JOB_CONCURRENCY: '8', HERALD_LOG_LEVEL: '' };
    const config = loadConfig({ env, file });
    expect(config).toMatchObject({
      port: 5000,
      // An empty variable counts as unset, so the file's value stands.
      logLevel: 'debug',
      worker: false,
      jobConcurrency: 8,
      // Trailing slashes are dropped so links can be joined with "/".
      publicUrl: 'https://mail.example.com',
    });
    expect(loadConfig({ env, file, overrides: { port: 6000 } }).port).toBe(6000);
  });

  it('reads the file named by HERALD_CONFIG when no file is given', () => {
    const file = configFile({ host: '0.0.0.0', dataDir: '/var/lib/herald' });
    expect(loadConfig({ env: { HERALD_CONFIG: file } })).toMatchObject({
      host: '0.0.0.0',
      dataDir: '/var/lib/herald',
      publicUrl: 'http://localhost:3000',
    });
  });

  it('parses booleans and URLs from the environment', () => {
    const config = loadConfig({
      env: { HERALD_WORKER: 'off', DATABASE_URL: 'postgres://herald@db:5432/herald', HERALD_PORT: '8080' },
    });
    expect(config).toMatchObject({
      worker: false,
      databaseUrl: 'postgres://herald@db:5432/herald',
      publicUrl: 'http://localhost:8080',
    });
  });

  it('reports every problem at once, each naming the setting and what it expects', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          HERALD_PORT: 'eighty',
          HERALD_LOG_LEVEL: 'loud',
          DATABASE_URL: 'not a url',
          HERALD_WORKER: 'maybe',
          HERALD_JOB_CONCURRENCY: '1000',
        },
      }),
    );
    expect(problems).toEqual([
      'HERALD_PORT: expected a whole number (got "eighty")',
      'DATABASE_URL: expected an absolute URL (got "not a url")',
      'HERALD_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'HERALD_WORKER: expected true or false (got "maybe")',
      'HERALD_JOB_CONCURRENCY: expected at most 64 (got "1000")',
    ]);
  });

  it('checks DNS servers and the sending IP, saying what form they take', () => {
    const config = loadConfig({
      env: { HERALD_DNS_SERVERS: '127.0.0.1:5353, [::1]:53,9.9.9.9', HERALD_SENDING_IP: '2001:db8::1' },
    });
    expect(config).toMatchObject({
      dnsServers: '127.0.0.1:5353, [::1]:53,9.9.9.9',
      sendingIp: '2001:db8::1',
    });
    expect(
      problemsOf(() =>
        loadConfig({ env: { HERALD_DNS_SERVERS: 'dns.example:53', HERALD_SENDING_IP: 'mail.example.com' } }),
      ),
    ).toEqual([
      'HERALD_DNS_SERVERS: "dns.example:53" is not an IP address with an optional port: use e.g. 127.0.0.1:5353 or [::1]:53, comma-separated',
      'HERALD_SENDING_IP: expected an IPv4 or IPv6 address (got "mail.example.com")',
    ]);
    expect(problemsOf(() => loadConfig({ env: { HERALD_DNS_SERVERS: '127.0.0.1:99999' } }))).toEqual([
      'HERALD_DNS_SERVERS: "127.0.0.1:99999" has an invalid port',
    ]);
  });

  it('reports bad values and unknown keys in the config file with the file and key', () => {
    const file = configFile({
      port: 'abc',
      logLevel: 'loud',
      publicUrl: 'mail.example.com',
      databasePoolSize: 0,
      colour: 'blue',
    });
    const problems = problemsOf(() => loadConfig({ env: {}, file }));
    expect(problems).toEqual([
      `"port" in ${file} (or HERALD_PORT): expected a whole number (got "abc")`,
      `"publicUrl" in ${file} (or HERALD_PUBLIC_URL): expected an absolute URL (got "mail.example.com")`,
      `"databasePoolSize" in ${file} (or HERALD_DATABASE_POOL_SIZE): expected at least 1 (got 0)`,
      `"logLevel" in ${file} (or HERALD_LOG_LEVEL): expected one of fatal, error, warn, info, debug, trace, silent (got "loud")`,
      `"colour" in ${file} is not a Herald setting`,
    ]);
    const error = (() => {
      try {
        loadConfig({ env: {}, file });
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error?.message).toMatch(/^Invalid configuration:\n {2}- "port" in /);
    // A valid environment variable fixes a bad file value.
    expect(problemsOf(() => loadConfig({ env: { HERALD_PORT: '3001' }, file }))).not.toContainEqual(
      expect.stringContaining('"port"'),
    );
  });

  it('explains a config file that is missing, not JSON or not an object', () => {
    const missing = join(dir, 'nope.json');
    expect(problemsOf(() => loadConfig({ env: {}, file: missing }))).toEqual([
      expect.stringMatching(new RegExp(`^config file ${missing} cannot be read: ENOENT`)),
    ]);
    const broken = configFile('{ "port": 3000, }');
    expect(problemsOf(() => loadConfig({ env: {}, file: broken }))).toEqual([
      expect.stringMatching(new RegExp(`^config file ${broken} is not valid JSON: `)),
    ]);
    const list = configFile([1, 2]);
    expect(problemsOf(() => loadConfig({ env: {}, file: list }))).toEqual([
      `config file ${list} must hold a JSON object`,
    ]);
  });

  it('names a HERALD_ variable for every setting except DATABASE_URL', () => {
    for (const [key, spec] of Object.entries(SETTINGS)) {
      if (key === 'databaseUrl') expect(spec.env).toBe('DATABASE_URL');
      else expect(spec.env).toMatch(/^HERALD_[A-Z_]+$/);
      expect(spec.description.length).toBeGreaterThan(5);
    }
  });
});
