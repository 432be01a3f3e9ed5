import { describe, expect, it } from 'vitest';
import { generateSecretKey, parseSecretKeys } from './secret-keys.js';
import {
  base32Decode,
  base32Encode,
  createAddressToken,
  createReturnPathToken,
  createToken,
  verifyAddressToken,
  verifyReturnPathToken,
  verifyToken,
} from './signed-tokens.js';

const oldKey = generateSecretKey();
const keyring = parseSecretKeys(oldKey);
const now = new Date('2030-01-01T00:00:00Z');
const ids = {
  messageId: '01890a5d-ac96-774b-bcce-b302099a8057',
  contactId: '01890a5d-ac96-774b-bcce-b302099a8058',
  campaignId: '01890a5d-ac96-774b-bcce-b302099a8059',
  listId: '01890a5d-ac96-774b-bcce-b302099a805a',
};

function flipChar(token: string, index: number, alphabet: string): string {
  const c = token[index] as string;
  const other = alphabet[(alphabet.indexOf(c) + 1) % alphabet.length] as string;
  return token.slice(0, index) + other + token.slice(index + 1);
}

describe('signed tokens', () => {
  it('round-trips the payload and is URL-safe and compact', () => {
    const token = createToken(keyring, 'unsubscribe', ids);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    // 2 + 6 + 4*16 + 16 bytes
    expect(token.length).toBe(Math.ceil((88 * 4) / 3));
    expect(verifyToken(keyring, 'unsubscribe', token, now)).toEqual(ids);
    const one = createToken(keyring, 'open', { messageId: ids.messageId });
    expect(one.length).toBeLessThanOrEqual(54);
    expect(verifyToken(keyring, 'open', one, now)).toEqual({ messageId: ids.messageId });
  });

  it('refuses a token of another kind', () => {
    const token = createToken(keyring, 'unsubscribe', ids);
    expect(verifyToken(keyring, 'click', token, now)).toBeUndefined();
  });

  it('refuses every single-character alteration, truncation and garbage', () => {
    const token = createToken(keyring, 'confirm', { contactId: ids.contactId, listId: ids.listId });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < token.length; i++) {
      expect(verifyToken(keyring, 'confirm', flipChar(token, i, alphabet), now)).toBeUndefined();
    }
    expect(verifyToken(keyring, 'confirm', token.slice(0, -1), now)).toBeUndefined();
    expect(verifyToken(keyring, 'confirm', `${token}A`, now)).toBeUndefined();
    for (const junk of ['', 'x', '!!!', 'a'.repeat(500), `${token}=`]) {
      expect(verifyToken(keyring, 'confirm', junk, now)).toBeUndefined();
    }
  });

  it('refuses the same bytes spelled another way', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Lengths that leave 2 and 3 characters after the last full group of four, and none.
    const tokens = [
      createToken(keyring, 'confirm', { contactId: ids.contactId, listId: ids.listId }),
      createToken(keyring, 'open', { messageId: ids.messageId }),
      createToken(keyring, 'unsubscribe', ids),
      createToken(keyring, 'view', {
        messageId: ids.messageId,
        contactId: ids.contactId,
        campaignId: ids.campaignId,
      }),
    ];
    expect(new Set(tokens.map((token) => token.length % 4))).toEqual(new Set([0, 2, 3]));
    for (const token of tokens) {
      const kind = (['confirm', 'open', 'unsubscribe', 'view'] as const)[tokens.indexOf(token)] as 'open';
      expect(verifyToken(keyring, kind, token, now)).toBeDefined();
      const bytes = Buffer.from(token, 'base64url');
      const spellings = [...alphabet]
        .map((c) => token.slice(0, -1) + c)
        .filter((other) => other !== token && Buffer.from(other, 'base64url').equals(bytes));
      if (token.length % 4 !== 0) expect(spellings.length).toBeGreaterThan(0);
      for (const other of [...spellings, `${token}==`, `${token.slice(0, 10)}.${token.slice(10)}`]) {
        expect(Buffer.from(other, 'base64url').equals(bytes)).toBe(true);
        expect(verifyToken(keyring, kind, other, now)).toBeUndefined();
      }
    }
  });

  it('expires at expiresAt', () => {
    const expiresAt = new Date(now.getTime() + 3600_000);
    const token = createToken(keyring, 'confirm', { contactId: ids.contactId }, { expiresAt });
    expect(verifyToken(keyring, 'confirm', token, now)).toEqual({ contactId: ids.contactId, expiresAt });
    expect(verifyToken(keyring, 'confirm', token, new Date(expiresAt.getTime() - 1))).toBeDefined();
    expect(verifyToken(keyring, 'confirm', token, expiresAt)).toBeUndefined();
  });

  it('verifies with an older key after rotation, and not once the key is removed', () => {
    const token = createToken(keyring, 'unsubscribe', ids);
    const rotated = parseSecretKeys(`${generateSecretKey()},${oldKey}`);
    expect(verifyToken(rotated, 'unsubscribe', token, now)).toEqual(ids);
    expect(createToken(rotated, 'unsubscribe', ids)).not.toBe(token);
    const removed = parseSecretKeys(generateSecretKey());
    expect(verifyToken(removed, 'unsubscribe', token, now)).toBeUndefined();
  });

  it('refuses ids that are not UUIDs when creating', () => {
    expect(() => createToken(keyring, 'open', { messageId: 'nope' })).toThrow(TypeError);
  });
});

describe('return-path tokens', () => {
  it('fit a VERP local part, are lowercase and survive case folding', () => {
    const token = createReturnPathToken(keyring, ids.messageId);
    expect(token).toMatch(/^[a-z2-7]+$/);
    expect(`b-${token}`.length).toBeLessThanOrEqual(64);
    expect(verifyReturnPathToken(keyring, token)).toBe(ids.messageId);
    expect(verifyReturnPathToken(keyring, token.toUpperCase())).toBe(ids.messageId);
  });

  it('refuse alterations and foreign keys, verify after rotation', () => {
    const token = createReturnPathToken(keyring, ids.messageId);
    for (let i = 0; i < token.length; i++) {
      expect(verifyReturnPathToken(keyring, flipChar(token, i, 'abcdefghijklmnopqrstuvwxyz234567'))).toBe(
        undefined,
      );
    }
    expect(verifyReturnPathToken(parseSecretKeys(generateSecretKey()), token)).toBeUndefined();
    expect(verifyReturnPathToken(parseSecretKeys(`${generateSecretKey()},${oldKey}`), token)).toBe(
      ids.messageId,
    );
    expect(verifyReturnPathToken(keyring, 'not a token')).toBeUndefined();
    expect(verifyAddressToken(keyring, 'unsubscribe', token)).toBeUndefined();
    const unsubscribe = createAddressToken(keyring, 'unsubscribe', ids.messageId);
    expect(verifyAddressToken(keyring, 'unsubscribe', unsubscribe)).toBe(ids.messageId);
  });

  it('base32 round-trips any bytes', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
    }
  });
});
