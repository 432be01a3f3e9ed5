/**
 * The one place an OpenID Connect provider's client secret is encrypted and
 * decrypted: with the workspace's data key (the data-keys module's cipher,
 * through this port). The provider's id is part of the authenticated purpose,
 * so a ciphertext copied to another provider fails; secrets written under the
 * master key directly (`v1.`, same purpose string) still decrypt.
 */
export interface SecretCipher {
  encrypt(workspaceId: string, purpose: string, plaintext: string): Promise<string>;
  decrypt(workspaceId: string, purpose: string, value: string): Promise<string>;
}

export function oidcSecretPurpose(providerId: string): string {
  return `oidc_providers:${providerId}`;
}

/** Call outside transactions: the cipher may load the workspace's data key from the database. */
export function sealOidcSecret(
  cipher: SecretCipher,
  workspaceId: string,
  providerId: string,
  secret: string,
): Promise<string> {
  return cipher.encrypt(workspaceId, oidcSecretPurpose(providerId), secret);
}

export function openOidcSecret(
  cipher: SecretCipher,
  workspaceId: string,
  providerId: string,
  stored: string,
): Promise<string> {
  return cipher.decrypt(workspaceId, oidcSecretPurpose(providerId), stored);
}
