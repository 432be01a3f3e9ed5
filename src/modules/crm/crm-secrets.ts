/**
 * The one place a CRM connection's API key or token is encrypted and
 * decrypted: with the workspace's data key (the data-keys module's cipher,
 * through this port). The connection's id is part of the authenticated
 * purpose, so a ciphertext copied to another connection fails; credentials
 * written under the master key directly (`v1.`, same purpose string) still
 * decrypt.
 */
export interface SecretCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
}

export function crmSecretPurpose(connectionId: string): string {
  return `crm:${connectionId}`;
}

/** Call outside transactions: the cipher may load the workspace's data key from the database. */
export function sealCrmSecret(
  cipher: SecretCipher,
  workspaceId: string,
  connectionId: string,
  secret: string,
): Promise<string> {
  return cipher.encrypt(workspaceId, crmSecretPurpose(connectionId), secret);
}

export function openCrmSecret(
  cipher: SecretCipher,
  workspaceId: string,
  connectionId: string,
  stored: string,
): Promise<string> {
  return cipher.decrypt(workspaceId, crmSecretPurpose(connectionId), stored);
}
