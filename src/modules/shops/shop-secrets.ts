import { decryptSecret, encryptSecret, type SecretKeyring } from '../../lib/secret-keys.js';

/**
 * The one place a connection's webhook secret is encrypted and decrypted, so
 * moving secrets to per-workspace data keys changes this file only. The
 * ciphertext is bound to the connection's row id: copied to another row, it
 * fails to decrypt.
 */
export interface ShopSecrets {
  seal(connectionId: string, secret: string): string;
  open(connectionId: string, stored: string): string;
}

export function createShopSecrets(keyring: SecretKeyring): ShopSecrets {
  const context = (connectionId: string) => `shop_connections:${connectionId}`;
  return {
    seal: (connectionId, secret) => encryptSecret(keyring, secret, context(connectionId)),
    open: (connectionId, stored) => decryptSecret(keyring, stored, context(connectionId)),
  };
}
