import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookDispatcher, createWebhookService } from '../../src/modules/webhooks/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** With HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS off (the default): private addresses are refused. */
let t: TestApp;
let receiver: WebhookReceiver;

beforeAll(async () => {
  t = await createTestApp({ HERALD_WEBHOOKS_ALLOW_HTTP: 'true' });
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await t.close();
  await receiver.close();
});

describe('webhook SSRF guard', () => {
  it('refuses endpoints on loopback, private, link-local and metadata addresses at creation', async () => {
    const port = new URL(receiver.url).port;
    for (const url of [
      receiver.url,
      `http://localhost:${port}/hook`,
      `http://[::1]:${port}/hook`,
      `http://[::ffff:127.0.0.1]:${port}/hook`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/hook',
      'http://[fd00::1]/hook',
    ]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/webhooks/endpoints',
        headers: t.auth(),
        payload: { url },
      });
      expect(response.statusCode, url).toBe(400);
      expect(response.json()).toMatchObject({ code: 'WEBHOOK_ENDPOINT_INVALID' });
      expect(response.json().detail).toContain('HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS');
    }
    const listed = await t.app.inject({ method: 'GET', url: '/v1/webhooks/endpoints', headers: t.auth() });
    expect(listed.json().data).toEqual([]);
    expect(receiver.received).toEqual([]);
  });

  it('checks the address again at delivery: a host that now resolves to loopback is not reached', async () => {
    // The host first resolves to a public address, then (rebinding) to loopback, where the receiver listens.
    let answer = '93.184.215.14';
    const resolve = async () => [{ address: answer, family: 4 }];
    const service = createWebhookService({
      db: t.container.db,
      clock: t.clock,
      cipher: t.container.dataKeys.cipher,
      allowHttp: true,
      allowPrivate: false,
      timeoutMs: 1000,
      retentionDays: 30,
      resolve,
    });
    const port = new URL(receiver.url).port;
    const endpoint = await service.create(t.workspaceId, { url: `http://rebinding.example:${port}/hook` });
    const contact = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: t.auth(),
      payload: { email: 'ssrf@example.com' },
    });
    expect(contact.statusCode).toBe(201);
    answer = '127.0.0.1';
    const dispatcher = createWebhookDispatcher({
      db: t.container.db,
      clock: t.clock,
      logger: pino({ level: 'silent' }),
      cipher: t.container.dataKeys.cipher,
      timeoutMs: 1000,
      allowPrivate: false,
      batchSize: 10,
      resolve,
    });
    expect(await dispatcher.runOnce()).toBe(1);
    expect(receiver.received).toEqual([]);
    const [delivery] = (await service.deliveries(t.workspaceId, endpoint.id, { limit: 10 })).data;
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(delivery?.last_error).toContain('resolves to 127.0.0.1');
  });
});
