/**
 * The one place a connection's webhook secret is encrypted and decrypted:
 * with the workspace's data key (the data-keys module's cipher, through this
 * port). The connection's id is part of the authenticated purpose, so a
 * ciphertext copied to another connection fails; secrets written under the
 * master key directly (`v1.`, same purpose string) still decrypt.
 */
export interface SecretCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
}

export function shopSecretPurpose(connectionId: string): string {
  return `shop_connections:${connectionId}`;
}

/** Call outside transactions: the cipher may load the workspace's data key from the database. */
export function sealShopSecret(
  cipher: SecretCipher,
  workspaceId: string,
  connectionId: string,
  secret: string,
): Promise<string> {
  return cipher.encrypt(workspaceId, shopSecretPurpose(connectionId), secret);
}

export function openShopSecret(
  cipher: SecretCipher,
  workspaceId: string,
  connectionId: string,
  stored: string,
): Promise<string> {
  return cipher.decrypt(workspaceId, shopSecretPurpose(connectionId), stored);
}
