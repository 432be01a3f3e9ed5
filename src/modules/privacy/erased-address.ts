import { type SecretKeyring, sign } from '../../lib/secret-keys.js';

/**
 * The key of an erased address on the suppression list: 'erased:' and the
 * HMAC-SHA256 of the workspace and the address as contacts.email_key holds it
 * (normalized, lower case). Without the secret keys the address cannot be
 * recovered from it, nor guessed by hashing candidates.
 *
 * One key per secret key in the keyring, the current one first: an entry
 * written before a key rotation still matches afterwards.
 */
const PURPOSE = 'privacy:erased-address';

export function erasedKeysFor(keyring: SecretKeyring, workspaceId: string, emailKey: string): string[] {
  return keyring.all.map(
    (key) => `erased:${sign(keyring, PURPOSE, `${workspaceId}\n${emailKey}`, key).toString('hex')}`,
  );
}

export function currentErasedKey(keyring: SecretKeyring, workspaceId: string, emailKey: string): string {
  return `erased:${sign(keyring, PURPOSE, `${workspaceId}\n${emailKey}`).toString('hex')}`;
}
