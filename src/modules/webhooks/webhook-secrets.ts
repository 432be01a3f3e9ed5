import { decryptSecret, encryptSecret, type SecretKeyring } from '../../lib/secret-keys.js';

/**
 * The one place endpoint signing secrets are encrypted and decrypted (so the
 * move to per-workspace data keys changes only this file). The row's id is
 * the authenticated context: a ciphertext copied to another endpoint fails.
 */
export function sealWebhookSecret(keyring: SecretKeyring, endpointId: string, secret: string): string {
  return encryptSecret(keyring, secret, `webhook_endpoints:${endpointId}`);
}

export function openWebhookSecret(keyring: SecretKeyring, endpointId: string, stored: string): string {
  return decryptSecret(keyring, stored, `webhook_endpoints:${endpointId}`);
}
