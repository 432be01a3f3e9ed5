import type { Role } from '../../src/modules/users/index.js';
import type { TestApp } from './test-app.js';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface SignedIn {
  userId: string;
  email: string;
  /** The raw Set-Cookie header of the sign-in. */
  setCookie: string;
  /** The Cookie request header value. */
  cookie: string;
  csrf: string;
  /** Headers for a read request. */
  read: { cookie: string };
  /** Headers for a write request (cookie and CSRF token). */
  write: { cookie: string; 'x-csrf-token': string };
}

/** The herald_session cookie of a response, as a Cookie request header value. */
export function sessionCookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  const pair = header?.split(';')[0];
  if (!pair?.startsWith('herald_session=')) throw new Error(`no session cookie in ${String(header)}`);
  return pair;
}

/** Signs in over HTTP, as a browser would. */
export async function signIn(
  t: TestApp,
  email: string,
  options: { password?: string; totp?: string; workspaceId?: string } = {},
): Promise<SignedIn> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/session',
    payload: {
      email,
      password: options.password ?? TEST_PASSWORD,
      ...(options.totp ? { totp: options.totp } : {}),
      ...(options.workspaceId ? { workspace_id: options.workspaceId } : {}),
    },
  });
  if (res.statusCode !== 200) throw new Error(`sign-in of ${email}: ${res.statusCode} ${res.body}`);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = sessionCookieOf(setCookie);
  const csrf = res.json().csrf_token as string;
  return {
    userId: res.json().user.id,
    email,
    setCookie,
    cookie,
    csrf,
    read: { cookie },
    write: { cookie, 'x-csrf-token': csrf },
  };
}

/** Creates a user with a role (as `herald users create` does) and signs them in. */
export async function userWithRole(
  t: TestApp,
  role: Role,
  options: { email?: string; workspaceId?: string } = {},
): Promise<SignedIn> {
  const email = options.email ?? `${role}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  await t.container.users.createUser({
    email,
    password: TEST_PASSWORD,
    workspaceId: options.workspaceId ?? t.workspaceId,
    role,
  });
  return signIn(t, email, options.workspaceId ? { workspaceId: options.workspaceId } : {});
}
