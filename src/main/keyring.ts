import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { generateSecretKey, parseSecretKeys, type SecretKeyring } from '../lib/secret-keys.js';

/**
 * The secret keys from HERALD_SECRET_KEYS, or else from `<dataDir>/secret.key`,
 * created on first start so `npm start` needs no setup. A file-kept key only
 * suits one machine: processes sharing a database must share the keys.
 */
export function loadKeyring(config: Pick<Config, 'secretKeys' | 'dataDir'>): {
  keyring: SecretKeyring;
  source: 'config' | 'file' | 'created';
} {
  if (config.secretKeys) return { keyring: parseSecretKeys(config.secretKeys), source: 'config' };
  const path = join(config.dataDir, 'secret.key');
  if (existsSync(path)) return { keyring: parseSecretKeys(readFileSync(path, 'utf8')), source: 'file' };
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(path, `${generateSecretKey()}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { keyring: parseSecretKeys(readFileSync(path, 'utf8')), source: 'created' };
}
