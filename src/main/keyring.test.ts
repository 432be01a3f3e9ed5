import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSecretKey } from '../lib/secret-keys.js';
import { loadKeyring } from './keyring.js';

describe('loadKeyring', () => {
  it('creates a private key file on first start and reuses it', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-keyring-'));
    try {
      const first = loadKeyring({ secretKeys: undefined, dataDir });
      expect(first.source).toBe('created');
      expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
      const second = loadKeyring({ secretKeys: undefined, dataDir });
      expect(second.source).toBe('file');
      expect(second.keyring.current.id).toBe(first.keyring.current.id);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('prefers HERALD_SECRET_KEYS and touches no file', () => {
    const dataDir = join(tmpdir(), 'herald-keyring-never-created');
    const ring = loadKeyring({ secretKeys: generateSecretKey(), dataDir });
    expect(ring.source).toBe('config');
    expect(() => statSync(dataDir)).toThrow();
  });
});
