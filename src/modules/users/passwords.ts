import { hash, verify } from '@node-rs/argon2';
import { DomainError } from '../../lib/errors.js';

/** argon2id with the library's defaults (19 MiB, 2 passes, 1 lane): OWASP's recommended minimum. */
// 2 is Algorithm.Argon2id, a const enum that isolated modules cannot import.
const OPTIONS = { algorithm: 2 } as const;

/** Longest password accepted: argon2 takes any length, but an unbounded one is a cheap way to burn CPU. */
export const PASSWORD_MAX_LENGTH = 256;

export function checkPasswordPolicy(password: string, minLength: number, path = '/password'): void {
  const length = [...password].length;
  if (length < minLength)
    throw new DomainError(
      'VALIDATION_FAILED',
      `the password is too short: use at least ${minLength} characters (it has ${length})`,
      [{ path, message: `at least ${minLength} characters` }],
    );
  if (length > PASSWORD_MAX_LENGTH)
    throw new DomainError(
      'VALIDATION_FAILED',
      `the password is too long: at most ${PASSWORD_MAX_LENGTH} characters`,
      [{ path, message: `at most ${PASSWORD_MAX_LENGTH} characters` }],
    );
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  if (password.length > PASSWORD_MAX_LENGTH * 4) return false;
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * Spends the time of one password check for an address nobody has, so the
 * response time does not tell which addresses have accounts.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummy ??= hashPassword('herald-no-such-user-dummy-password');
  await verifyPassword(await dummy, password);
}
