/**
 * The session cookie, built and read without any web framework, so the OIDC
 * sign-in (and any other route that starts a session) sets exactly the same one.
 */
export const SESSION_COOKIE = 'herald_session';

export function serializeSessionCookie(
  value: string,
  options: { secure: boolean; maxAgeSeconds: number },
): string {
  const parts = [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
  ];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

/** A Set-Cookie value that makes the browser forget the session cookie (logout). */
export function clearSessionCookie(options: { secure: boolean }): string {
  return serializeSessionCookie('', { secure: options.secure, maxAgeSeconds: 0 });
}

/** The session cookie's value in a Cookie header, if any. */
export function readSessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value.length > 0 ? value : undefined;
    }
  }
  return undefined;
}
