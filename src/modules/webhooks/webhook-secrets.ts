/**
 * The one place endpoint signing secrets are encrypted and decrypted: with the
 * workspace's data key (the data-keys module's cipher, through this port). The
 * endpoint's id is part of the authenticated purpose, so a ciphertext copied
 * to another endpoint fails; secrets written under the master key directly
 * (`v1.`, same purpose string) still decrypt.
 */
export interface SecretCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
}

export function webhookSecretPurpose(endpointId: string): string {
  return `webhook_endpoints:${endpointId}`;
}

/** Call outside transactions: the cipher may load the workspace's data key from the database. */
export function sealWebhookSecret(
  cipher: SecretCipher,
  workspaceId: string,
  endpointId: string,
  secret: string,
): Promise<string> {
  return cipher.encrypt(workspaceId, webhookSecretPurpose(endpointId), secret);
}

export function openWebhookSecret(
  cipher: SecretCipher,
  workspaceId: string,
  endpointId: string,
  stored: string,
): Promise<string> {
  return cipher.decrypt(workspaceId, webhookSecretPurpose(endpointId), stored);
}
