import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grants, type Scope } from '../../src/modules/auth/index.js';
import { ROLES, scopesOf } from '../../src/modules/users/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { type SignedIn, userWithRole } from '../helpers/user-session.js';

/**
 * Walks the real route table once per role: a signed-in user is refused
 * (403, naming the scope) exactly the routes their role's scopes do not
 * grant, and let through to the handler everywhere else. Routes added later
 * are covered without anyone remembering to.
 */

let t: TestApp;
const sessions = new Map<string, SignedIn>();
const NO_SUCH_ID = '00000000-0000-7000-8000-000000000000';

/** A URL for the route that addresses nothing that exists, so let-through requests change nothing real. */
function concrete(url: string): string {
  return url
    .replace(/:email/g, 'nobody%40example.com')
    .replace(/:name/g, 'no_such_attribute')
    .replace(/:version/g, '1')
    .replace(/:\w+/g, NO_SUCH_ID);
}

beforeAll(async () => {
  t = await createTestApp({ HERALD_RATE_LIMIT_PER_MINUTE: '100000' });
  for (const role of ROLES) sessions.set(role, await userWithRole(t, role));
});
afterAll(async () => {
  await t?.close();
});

describe.each(ROLES)('a signed-in %s', (role) => {
  it('is refused exactly the routes its scopes do not grant', async () => {
    const session = sessions.get(role) as SignedIn;
    const scopes = scopesOf(role);
    let allowed = 0;
    let refused = 0;
    for (const route of t.app.routeTable.filter((r) => !r.public && !r.session)) {
      const scope = route.scope as Scope;
      const res = await t.app.inject({
        method: route.method as 'GET',
        url: concrete(route.url),
        headers: session.write,
        ...(route.jsonBody ? { payload: {} } : {}),
      });
      const label = `${role} ${route.method} ${route.url}: ${res.statusCode} ${res.body.slice(0, 200)}`;
      const refusedByScope =
        res.statusCode === 403 &&
        res.json().code === 'FORBIDDEN' &&
        res.json().detail.includes('lacks the scope');
      if (grants(scopes, scope)) {
        allowed++;
        expect(refusedByScope, label).toBe(false);
        expect(res.statusCode, label).not.toBe(401);
      } else {
        refused++;
        expect(res.statusCode, label).toBe(403);
        expect(res.json().detail, label).toBe(
          `Your role (${role}) lacks the scope "${scope}" that this endpoint requires.`,
        );
      }
    }
    // Every role reaches something, and only owner and admin reach everything.
    expect(allowed).toBeGreaterThan(0);
    if (role === 'owner' || role === 'admin') expect(refused).toBe(0);
    else expect(refused).toBeGreaterThan(0);
  });

  it('reaches its own session routes', async () => {
    const session = sessions.get(role) as SignedIn;
    const me = await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read });
    expect(me.statusCode).toBe(200);
    expect(me.json().role).toBe(role);
    expect(me.json().scopes).toEqual(scopesOf(role));
  });
});
