import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/modules/auth/index.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { userWithRole } from '../helpers/user-session.js';

/**
 * Walks every route in the route table, so a route added later is covered
 * without anyone remembering to: each must refuse a request without a key
 * (401), with a key lacking its scope (403), and must not reveal or change
 * another workspace's objects (404).
 */

let t: TestApp;
/** Objects of workspace A, by the name of the path parameter that addresses them. */
const fixtures: Record<string, Record<string, string>> = {};

/** A valid request per route, so the cross-workspace check reaches the handler rather than validation. */
function sampleRequest(
  method: string,
  url: string,
): { url: string; payload?: unknown; contentType?: string } {
  const path = url
    .replace(/^\/v1\/contacts\/:id/, `/v1/contacts/${fixtures.contact?.id}`)
    .replace(/^\/v1\/campaigns\/:id/, `/v1/campaigns/${fixtures.campaign?.id}`)
    .replace(/^\/v1\/lists\/:id/, `/v1/lists/${fixtures.list?.id}`)
    .replace(/^\/v1\/api-keys\/:id/, `/v1/api-keys/${fixtures.apiKey?.id}`)
    .replace(/^\/v1\/imports\/:id/, `/v1/imports/${fixtures.import?.id}`)
    .replace(/^\/v1\/sending-domains\/:id/, `/v1/sending-domains/${fixtures.sendingDomain?.id}`)
    .replace(/^\/v1\/transports\/:id/, `/v1/transports/${fixtures.transport?.id}`)
    .replace(/^\/v1\/templates\/:id/, `/v1/templates/${fixtures.template?.id}`)
    .replace(/^\/v1\/snippets\/:id/, `/v1/snippets/${fixtures.snippet?.id}`)
    .replace(/^\/v1\/messages\/:id/, `/v1/messages/${fixtures.message?.id}`)
    .replace(/^\/v1\/segments\/:id/, `/v1/segments/${fixtures.segment?.id}`)
    .replace(/^\/v1\/automations\/:id/, `/v1/automations/${fixtures.automation?.id}`)
    .replace(/^\/v1\/throttles\/:id/, `/v1/throttles/${fixtures.throttle?.id}`)
    .replace(/^\/v1\/warmup-schedules\/:id/, `/v1/warmup-schedules/${fixtures.warmup?.id}`)
    .replace(/^\/v1\/connectors\/shops\/:id/, `/v1/connectors/shops/${fixtures.shop?.id}`)
    .replace(/^\/v1\/oauth\/clients\/:id/, `/v1/oauth/clients/${fixtures.oauthClient?.id}`)
    .replace(/^\/v1\/oauth\/oidc-providers\/:id/, `/v1/oauth/oidc-providers/${fixtures.oidcProvider?.id}`)
    .replace(/^\/v1\/users\/:id/, `/v1/users/${fixtures.member?.id}`)
    .replace(/^\/v1\/invitations\/:id/, `/v1/invitations/${fixtures.invitation?.id}`)
    .replace(/^\/v1\/webhooks\/endpoints\/:id/, `/v1/webhooks/endpoints/${fixtures.webhookEndpoint?.id}`)
    .replace(/^\/v1\/webhooks\/deliveries\/:id/, `/v1/webhooks/deliveries/${fixtures.webhookDelivery?.id}`)
    .replace(/^\/v1\/connectors\/runs\/:id/, `/v1/connectors/runs/${fixtures.connectorRun?.id}`)
    .replace(/:version$/, '1')
    .replace(/:runId$/, String(fixtures.run?.id))
    .replace(/^\/v1\/attributes\/:name/, `/v1/attributes/${fixtures.attribute?.name}`)
    .replace(/^\/v1\/suppressions\/:email/, `/v1/suppressions/${fixtures.suppression?.email}?reason=hacked`);
  const bodies: Record<string, unknown> = {
    'PATCH /v1/contacts/:id': { attributes: { hacked: true } },
    'PATCH /v1/lists/:id': { name: 'hacked' },
    'PATCH /v1/campaigns/:id': { name: 'hacked' },
    'POST /v1/campaigns/:id/schedule': { send_at: '2099-01-01T09:00:00Z' },
    'POST /v1/campaigns/:id/test': { emails: ['intruder@example.com'] },
    'POST /v1/campaigns/:id/ab-test/winner': { variant: 'A' },
    'PATCH /v1/attributes/:name': { description: 'hacked' },
    'PATCH /v1/templates/:id': { name: 'hacked' },
    'POST /v1/templates/:id/versions': { format: 'html', subject: 'hacked', body: 'hacked' },
    'POST /v1/templates/:id/preview': {},
    'PUT /v1/snippets/:id': { name: 'hacked', source: 'hacked' },
    'POST /v1/lists/:id/members': { emails: ['intruder@example.com'] },
    'POST /v1/lists/:id/members/unsubscribe': { contact_ids: [fixtures.contact?.id] },
    'POST /v1/lists/:id/members/confirm': { contact_ids: [fixtures.contact?.id] },
    'POST /v1/lists/:id/members/remove': { contact_ids: [fixtures.contact?.id] },
    'PATCH /v1/transports/:id': { name: 'hacked' },
    'PATCH /v1/sending-domains/:id': { allow_unverified: true },
    'PATCH /v1/segments/:id': { name: 'hacked' },
    'PATCH /v1/automations/:id': { name: 'hacked' },
    'POST /v1/automations/:id/enroll': { contact: { id: fixtures.contact?.id } },
    'POST /v1/automations/:id/simulate': { sample: {} },
    'POST /v1/transports/:id/test': { to: 'intruder@example.com', from: 'intruder@example.com' },
    'PATCH /v1/throttles/:id': { per_minute: 1 },
    'PATCH /v1/warmup-schedules/:id': { daily_caps: [1] },
    'PATCH /v1/connectors/shops/:id': { name: 'hacked' },
    'PATCH /v1/oauth/oidc-providers/:id': { allowed_domains: ['hacked.example'] },
    'PATCH /v1/users/:id': { role: 'admin' },
    'POST /v1/contacts/:id/erase': { reason: 'hacked' },
    'PATCH /v1/webhooks/endpoints/:id': { description: 'hacked' },
    'POST /v1/webhooks/endpoints/:id/replay': { from: '2000-01-01T00:00:00Z', to: '2000-02-01T00:00:00Z' },
  };
  const key = `${method} ${url}`;
  return key in bodies ? { url: path, payload: bodies[key] } : { url: path };
}

function snapshot(): Promise<string> {
  return databaseSnapshot(t.container.database.pool);
}

beforeAll(async () => {
  t = await createTestApp();
  const headers = t.auth();
  const inject = async (method: 'POST' | 'PUT', url: string, payload: object) => {
    const res = await t.app.inject({ method, url, headers, payload });
    if (res.statusCode >= 300) throw new Error(`fixture ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  fixtures.contact = await inject('POST', '/v1/contacts', { email: 'owner@example.com' });
  fixtures.attribute = await inject('POST', '/v1/attributes', { name: 'plan', type: 'string' });
  const hasRoute = (url: string) => t.app.routeTable.some((r) => r.url === url);
  if (hasRoute('/v1/lists')) {
    fixtures.list = await inject('POST', '/v1/lists', {
      name: 'Owners',
      opt_in: 'single',
      visibility: 'private',
    });
  }
  if (hasRoute('/v1/imports')) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/imports?mode=upsert',
      headers: { ...headers, 'content-type': 'text/csv' },
      payload: 'email\nimported@example.com\n',
    });
    if (res.statusCode !== 202) throw new Error(`fixture import: ${res.statusCode} ${res.body}`);
    fixtures.import = res.json();
  }
  fixtures.campaign = await inject('POST', '/v1/campaigns', {
    name: 'Owners only',
    ...(fixtures.list ? { lists: [fixtures.list.id] } : {}),
  });
  if (hasRoute('/v1/sending-domains')) {
    fixtures.sendingDomain = await inject('POST', '/v1/sending-domains', {
      domain: 'owner.example.com',
      algorithm: 'ed25519',
    });
  }
  if (hasRoute('/v1/transports')) {
    fixtures.transport = await inject('POST', '/v1/transports', { name: 'Owners outbox', type: 'file' });
  }
  if (hasRoute('/v1/templates')) {
    fixtures.snippet = await inject('POST', '/v1/snippets', { name: 'owner-footer', source: '<p>owner</p>' });
    fixtures.template = await inject('POST', '/v1/templates', {
      name: 'Owners',
      format: 'html',
      subject: 'Hi {{ contact.email }}',
      body: "<p>owner</p>{% render 'owner-footer' %}",
    });
  }
  if (hasRoute('/v1/messages')) {
    fixtures.message = await inject('POST', '/v1/messages', {
      to: 'owner@example.com',
      from_email: 'owner@owner.example.com',
      inline: { subject: 'Receipt', text: 'Thanks' },
    });
  }
  if (hasRoute('/v1/segments')) {
    fixtures.segment = await inject('POST', '/v1/segments', {
      name: 'Owners segment',
      definition: { field: 'email', operator: 'ends_with', value: '@example.com' },
    });
  }
  if (hasRoute('/v1/automations')) {
    const automation = await inject('POST', '/v1/automations', {
      name: 'Owners journey',
      definition: {
        trigger: { type: 'api' },
        sender: { from_email: 'news@shop.example' },
        start: 'hello',
        nodes: [
          { id: 'hello', type: 'send_email', template: 'Owners', next: 'done' },
          { id: 'done', type: 'exit' },
        ],
      },
    });
    await inject('POST', `/v1/automations/${automation.id}/publish`, {});
    fixtures.automation = automation;
    const enrolled = await inject('POST', `/v1/automations/${automation.id}/enroll`, {
      contact: { id: fixtures.contact?.id },
    });
    fixtures.run = enrolled.run;
  }
  if (hasRoute('/v1/throttles')) {
    fixtures.throttle = await inject('POST', '/v1/throttles', { domains: ['owner.example'], per_minute: 10 });
    fixtures.warmup = await inject('POST', '/v1/warmup-schedules', {
      transport_id: fixtures.transport?.id,
      daily_caps: [10, 20],
    });
  }
  if (hasRoute('/v1/suppressions')) {
    fixtures.suppression = await inject('POST', '/v1/suppressions', {
      email: 'suppressed-owner@example.com',
    });
  }
  if (hasRoute('/v1/connectors/shops')) {
    fixtures.shop = await inject('POST', '/v1/connectors/shops', {
      platform: 'shopify',
      name: 'Owners shop',
      shop_url: 'https://owners.myshopify.com',
      webhook_secret: 'owners-shop-secret',
    });
  }
  if (hasRoute('/v1/oauth/clients')) {
    fixtures.oauthClient = await inject('POST', '/v1/oauth/clients', {
      name: 'Owners robot',
      scopes: ['lists:read'],
    });
    fixtures.oidcProvider = await inject('POST', '/v1/oauth/oidc-providers', {
      name: 'Owners SSO',
      issuer: 'https://sso.owner.example',
      client_id: 'herald',
      client_secret: 'owner-secret',
    });
  }
  if (hasRoute('/v1/users')) {
    const member = await t.container.users.createUser({
      email: 'member@example.com',
      password: 'a long enough password',
      workspaceId: t.workspaceId,
      role: 'editor',
    });
    fixtures.member = { id: member.user.id };
    const invited = await inject('POST', '/v1/invitations', { email: 'invitee@example.com', role: 'viewer' });
    fixtures.invitation = invited.invitation;
  }
  if (hasRoute('/v1/webhooks/endpoints')) {
    // A public address literal: no DNS, and no request is ever made (no worker runs here).
    fixtures.webhookEndpoint = await inject('POST', '/v1/webhooks/endpoints', {
      url: 'https://93.184.215.14/hook',
    });
    await inject('POST', '/v1/contacts', { email: 'webhook-owner@example.com' });
    const listed = await t.app.inject({
      method: 'GET',
      url: `/v1/webhooks/endpoints/${fixtures.webhookEndpoint?.id}/deliveries`,
      headers,
    });
    fixtures.webhookDelivery = listed.json().data[0];
  }
  if (hasRoute('/v1/connectors/runs/:id')) {
    // Written directly: a connection through the API needs a Mailchimp server (crm-mailchimp.test.ts has one).
    const now = new Date();
    const connectionId = '01900000-0000-7000-8000-00000000c001';
    await t.container.db
      .insertInto('crm_connections')
      .values({
        id: connectionId,
        workspace_id: t.workspaceId,
        provider: 'mailchimp',
        settings: '{}',
        secret: 'sealed',
        created_at: now,
        updated_at: now,
      })
      .execute();
    fixtures.connectorRun = await t.container.db
      .insertInto('crm_sync_runs')
      .values({
        id: '01900000-0000-7000-8000-00000000c002',
        workspace_id: t.workspaceId,
        connection_id: connectionId,
        kind: 'import',
        status: 'completed',
        since: null,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
  }
  const keys = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers });
  fixtures.apiKey = keys.json().data[0];
});
afterAll(async () => {
  await t?.close();
});

const PARAM_FIXTURE: Record<string, string> = {
  '/v1/contacts/:id': 'contact',
  '/v1/campaigns/:id': 'campaign',
  '/v1/lists/:id': 'list',
  '/v1/api-keys/:id': 'apiKey',
  '/v1/imports/:id': 'import',
  '/v1/sending-domains/:id': 'sendingDomain',
  '/v1/transports/:id': 'transport',
  '/v1/attributes/:name': 'attribute',
  '/v1/templates/:id': 'template',
  '/v1/snippets/:id': 'snippet',
  '/v1/messages/:id': 'message',
  '/v1/segments/:id': 'segment',
  '/v1/automations/:id': 'automation',
  '/v1/suppressions/:email': 'suppression',
  '/v1/throttles/:id': 'throttle',
  '/v1/warmup-schedules/:id': 'warmup',
  '/v1/connectors/shops/:id': 'shop',
  '/v1/oauth/clients/:id': 'oauthClient',
  '/v1/oauth/oidc-providers/:id': 'oidcProvider',
  '/v1/users/:id': 'member',
  '/v1/invitations/:id': 'invitation',
  '/v1/webhooks/endpoints/:id': 'webhookEndpoint',
  '/v1/webhooks/deliveries/:id': 'webhookDelivery',
  '/v1/connectors/runs/:id': 'connectorRun',
};

/** GET routes without a path parameter that look one thing up by a required query parameter. */
const LOOKUP_QUERIES: Record<string, string> = {
  '/v1/privacy/access': 'email=owner@example.com',
  // {transport}: this workspace's transport (a file transport: the look-up stops at its type, or its absence).
  '/v1/connectors/sendgrid/stats': 'transport_id={transport}&from=2026-11-01&to=2026-11-02',
};

/** Public routes besides health, readiness, docs and confirm links, each with why it needs no API key. */
const PUBLIC_ROUTES: Record<string, string> = {
  '/u/:token': 'one-click unsubscribe (RFC 8058) and its page: the signed token is the credential',
  '/p/:token': 'preference center: the signed token is the credential, POSTs also need the page nonce',
  '/m/:token': 'view in browser: the signed token is the credential',
  '/f/:listId': 'hosted subscribe form of a public list: anyone may subscribe (honeypot, per-IP limit)',
  '/o/:token':
    'open pixel: the signed token is the credential; limited per token, not per IP (image proxies)',
  '/c/:token': 'click redirect: the signed token is the credential; destination only from template_links',
  '/webhooks/ses/:workspaceId':
    'Amazon SES via SNS: the SNS signature (certificate from an allowed host) and the topic allow-list are the credential',
  '/webhooks/sendgrid/:workspaceId':
    "SendGrid Event Webhook: ECDSA signature checked with the workspace's verification key",
  '/webhooks/mailgun/:workspaceId':
    "Mailgun: HMAC with the workspace's signing key, timestamp window, replayed tokens ignored",
  '/webhooks/postmark/:workspaceId': "Postmark: HTTP Basic credentials from the workspace's settings",
  '/hooks/shopify/:connectionId':
    "Shopify webhooks: HMAC-SHA256 of the raw body with the connection's secret (X-Shopify-Hmac-Sha256)",
  '/hooks/woocommerce/:connectionId':
    "WooCommerce webhooks: HMAC-SHA256 of the raw body with the connection's secret (X-WC-Webhook-Signature); the unsigned ping stores nothing",
  '/oauth/token': 'OAuth 2.0 token endpoint: the client credentials (HTTP Basic or form) are the credential',
  '/auth/oidc/:providerId/start':
    'OpenID Connect sign-in: only redirects to the identity provider, which authenticates the person',
  '/auth/oidc/callback':
    'OpenID Connect callback: the one-time state (bound to the browser by cookie), the code and the verified ID token are the credential',
  '/v1/session':
    'sign-in (POST only): email, password and second factor are the credential; per-IP limit, lockout',
  '/v1/invitations/accept':
    'accepting an invitation: the signed single-use token is the credential; per-IP limit',
  '/invitations/accept':
    'invitation page the emailed link opens: the signed single-use token is the credential; GET changes nothing, POST from another origin refused; per-IP limit',
};

describe('the route table', () => {
  it('declares a scope or public on every route, and only health, readiness, docs and confirm links are public', () => {
    const open = t.app.routeTable.filter((r) => r.public).map((r) => r.url);
    for (const url of open.filter((u) => !(u in PUBLIC_ROUTES)))
      expect(url).toMatch(/^\/(healthz|readyz|openapi\.json|docs(\/.*)?|confirm\/:token)$/);
    for (const route of t.app.routeTable.filter((r) => !r.public && !r.session))
      expect(ALL_SCOPES).toContain(route.scope);
  });

  it('refuses API keys on routes for signed-in users only (their session, password, second factor)', async () => {
    const sessionRoutes = t.app.routeTable.filter((r) => r.session);
    for (const route of sessionRoutes) {
      expect(route.url).toMatch(/^\/v1\/(session|me)(\/|$)/);
      const res = await t.app.inject({ method: route.method as 'GET', url: route.url, headers: t.auth() });
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(403);
      expect(res.json().code).toBe('SESSION_REQUIRED');
    }
  });

  it('has a fixture for every parameterized route', () => {
    for (const route of t.app.routeTable.filter((r) => r.url.includes(':') && !r.public)) {
      const prefix = Object.keys(PARAM_FIXTURE).find((p) => route.url.startsWith(p));
      expect(prefix, `no fixture for ${route.method} ${route.url}: add one to this test`).toBeDefined();
      expect(
        fixtures[PARAM_FIXTURE[prefix as string] as string],
        `fixture missing for ${route.url}`,
      ).toBeDefined();
    }
  });

  it('answers 401 problem+json without a key or with a wrong key', async () => {
    for (const route of t.app.routeTable.filter((r) => !r.public)) {
      const { url } = sampleRequest(route.method, route.url);
      for (const headers of [
        {},
        { authorization: 'Bearer hk_not-a-real-key' },
        // An unsigned JWT claiming admin, in place of an OAuth access token.
        { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0.x' },
        { authorization: 'Basic abc' },
      ]) {
        const res = await t.app.inject({ method: route.method as 'GET', url, headers });
        expect(res.statusCode, `${route.method} ${route.url}`).toBe(401);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json().code).toBe('UNAUTHENTICATED');
      }
    }
  });

  it('answers 403 to a key that lacks the route scope', async () => {
    for (const route of t.app.routeTable.filter((r) => !r.public && !r.session)) {
      const other = ALL_SCOPES.filter((s) => s !== 'admin' && s !== route.scope);
      const key = await t.createKey(other);
      const { url, payload } = sampleRequest(route.method, route.url);
      const res = await t.app.inject({
        method: route.method as 'GET',
        url,
        headers: t.auth(key),
        ...(payload ? { payload: payload as object } : {}),
      });
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(403);
      expect(res.json().code).toBe('FORBIDDEN');
      expect(res.json().detail).toContain(String(route.scope));
    }
  });

  it("answers 404 to another workspace's key for this workspace's objects and changes nothing", async () => {
    const intruder = await t.createWorkspace('Intruder');
    const before = await snapshot();
    for (const route of t.app.routeTable.filter((r) => r.url.includes(':') && !r.public)) {
      const { url, payload } = sampleRequest(route.method, route.url);
      const res = await t.app.inject({
        method: route.method as 'GET',
        url,
        headers: t.auth(intruder.adminKey),
        ...(payload ? { payload: payload as object } : {}),
      });
      expect(res.statusCode, `${route.method} ${route.url}: ${res.body}`).toBe(404);
    }
    expect(await snapshot()).toBe(before);
  });

  it("answers 404 to another workspace's signed-in owner for this workspace's objects and changes nothing", async () => {
    const intruder = await t.createWorkspace('Session intruder');
    const session = await userWithRole(t, 'owner', { workspaceId: intruder.workspaceId });
    const before = await snapshot();
    for (const route of t.app.routeTable.filter((r) => r.url.includes(':') && !r.public)) {
      const { url, payload } = sampleRequest(route.method, route.url);
      const res = await t.app.inject({
        method: route.method as 'GET',
        url,
        headers: session.write,
        ...(payload ? { payload: payload as object } : {}),
      });
      expect(res.statusCode, `${route.method} ${route.url}: ${res.body}`).toBe(404);
    }
    expect(await snapshot()).toBe(before);
  });

  it("never lists another workspace's objects", async () => {
    const intruder = await t.createWorkspace('Lister');
    const ownIds = Object.values(fixtures)
      .map((f) => f.id)
      .filter(Boolean);
    for (const route of t.app.routeTable.filter(
      (r) => r.method === 'GET' && !r.url.includes(':') && !r.public && !r.session,
    )) {
      const lookup = LOOKUP_QUERIES[route.url];
      if (lookup) {
        // A look-up by this workspace's value finds nothing from another workspace.
        const res = await t.app.inject({
          method: 'GET',
          url: `${route.url}?${lookup.replace('{transport}', String(fixtures.transport?.id))}`,
          headers: t.auth(intruder.adminKey),
        });
        expect(res.statusCode, `${route.url}: ${res.body}`).toBe(404);
        expect(res.body).not.toContain(fixtures.contact?.id);
        continue;
      }
      const res = await t.app.inject({ method: 'GET', url: route.url, headers: t.auth(intruder.adminKey) });
      expect(res.statusCode, `${route.url}: ${res.body}`).toBeLessThan(300);
      for (const id of ownIds) expect(res.body, `${route.url} leaks ${id}`).not.toContain(id);
      expect(res.body).not.toContain('owner@example.com');
    }
  });
});
