import { expect } from 'vitest';
import { encryptSecret, parseSecretKeys } from '../../src/lib/secret-keys.js';
import { rotateDataKeys } from '../../src/main/commands/keys.js';
import type { TestApp } from './test-app.js';
import { TEST_SECRET_KEY } from './test-app.js';

/** The id of the workspace's active data key (the one new values are encrypted with). */
export async function activeDataKeyId(t: TestApp, workspaceId: string): Promise<string> {
  const active = (await t.container.dataKeys.list(workspaceId)).find((key) => key.state === 'active');
  if (!active) throw new Error(`workspace ${workspaceId} has no active data key`);
  return active.id;
}

/** Asserts a stored value is encrypted with the workspace's active data key and does not hold the plaintext. */
export async function expectUnderActiveDataKey(
  t: TestApp,
  workspaceId: string,
  stored: string | null | undefined,
  plaintext: string,
): Promise<void> {
  const keyId = await activeDataKeyId(t, workspaceId);
  expect(stored).toMatch(new RegExp(`^hdk1\\.${keyId}\\.`));
  expect(stored).not.toContain(plaintext);
}

/** A value as Herald wrote it before data keys: encrypted with the master key directly. */
export function legacyEncrypted(plaintext: string, purpose: string): string {
  return encryptSecret(parseSecretKeys(TEST_SECRET_KEY), plaintext, purpose);
}

/** Runs `herald keys rotate-data` for one workspace, expecting it to complete; returns the new key's id. */
export async function rotateWorkspace(t: TestApp, workspaceId: string): Promise<string> {
  const before = await activeDataKeyId(t, workspaceId);
  const { ok, reports } = await rotateDataKeys(t.container, { workspace: workspaceId }, () => {});
  expect(ok).toBe(true);
  const keyId = reports[0]?.keyId as string;
  expect(keyId).not.toBe(before);
  expect(await activeDataKeyId(t, workspaceId)).toBe(keyId);
  return keyId;
}
