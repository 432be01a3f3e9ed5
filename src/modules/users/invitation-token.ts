import { isUuid } from '../../lib/ids.js';
import { type SecretKeyring, sign, verifySignature } from '../../lib/secret-keys.js';

/**
 * Invitation tokens: `<workspace id>.<invitation id>.<key id>.<signature>`.
 * The signature (HMAC under the keyring) makes a token unforgeable; the
 * invitation row decides whether it is still usable (expiry, single use,
 * revocation), so nothing secret is stored.
 */
const PURPOSE = 'invitation';

export function createInvitationToken(
  keyring: SecretKeyring,
  workspaceId: string,
  invitationId: string,
): string {
  const signature = sign(keyring, PURPOSE, `${workspaceId}.${invitationId}`).subarray(0, 24);
  return `${workspaceId}.${invitationId}.${keyring.current.id}.${signature.toString('base64url')}`;
}

export function verifyInvitationToken(
  keyring: SecretKeyring,
  token: string,
): { workspaceId: string; invitationId: string } | undefined {
  const [workspaceId, invitationId, keyId, signature, ...rest] = token.split('.');
  if (rest.length > 0 || !workspaceId || !invitationId || !keyId || !signature) return undefined;
  if (!isUuid(workspaceId) || !isUuid(invitationId)) return undefined;
  const ok = verifySignature(
    keyring,
    PURPOSE,
    `${workspaceId}.${invitationId}`,
    keyId,
    Buffer.from(signature, 'base64url'),
  );
  return ok ? { workspaceId, invitationId } : undefined;
}
