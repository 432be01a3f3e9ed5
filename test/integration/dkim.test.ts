import type { AddressInfo } from 'node:net';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReturnPathToken, verifyToken } from '../../src/lib/signed-tokens.js';
import {
  buildMessage,
  feedbackId,
  type MessageInput,
  returnPathAddress,
  unsubscribeLinks,
} from '../../src/mail/message-builder.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Messages built and DKIM-signed by Herald travel through a real SMTP server
 * on 127.0.0.1 and are verified by an independent implementation (mailauth)
 * whose DNS answers come from the records the API told us to publish.
 */
let t: TestApp;
let server: SMTPServer;
let port: number;
const captured: { from: string; to: string[]; raw: Buffer }[] = [];
const dnsRecords = new Map<string, string>();

const resolver = async (name: string, type: string) => {
  const value = dnsRecords.get(name.toLowerCase());
  if (type === 'TXT' && value) return [[value]];
  throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
};

beforeAll(async () => {
  t = await createTestApp();
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        captured.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t?.close();
});

async function addDomain(domain: string, algorithm: 'rsa' | 'ed25519') {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sending-domains',
    headers: t.auth(),
    payload: { domain, algorithm, selector: `s-${algorithm}` },
  });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json();
  dnsRecords.set(body.dns_record.name, body.dns_record.value);
  return body;
}

function marketingInput(i: number, domain: string): MessageInput {
  const keyring = t.container.keyring;
  const ids = {
    messageId: `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    contactId: `01900000-0000-7000-9000-${String(i).padStart(12, '0')}`,
    campaignId: '01900000-0000-7000-a000-000000000001',
    listId: '01900000-0000-7000-b000-000000000001',
  };
  const links = unsubscribeLinks(keyring, {
    publicUrl: 'https://herald.example.net',
    domain,
    workspaceId: t.workspaceId,
    ...ids,
  });
  return {
    id: ids.messageId,
    domain,
    date: t.clock.now(),
    from: { name: 'Acme News', email: `news@${domain}` },
    replyTo: { email: `support@${domain}` },
    to: { name: `Reader ${i} Zoë`, email: `reader${i}@example.org` },
    subject: `Issue ${i}: déjà vu`,
    html: `<p>Hello reader ${i}</p>${'<p>filler text, long enough to wrap.</p>'.repeat(40)}`,
    text: `Hello reader ${i}`,
    returnPath: returnPathAddress(keyring, ids.messageId, `bounces.${domain}`),
    marketing: {
      unsubscribeUrl: links.url,
      unsubscribeMailto: links.mailto,
      list: { id: ids.listId, name: 'Weekly News', workspaceId: t.workspaceId },
      feedbackId: feedbackId({ ...ids, workspaceId: t.workspaceId, senderId: 'herald' }),
    },
  };
}

async function sendAll(messages: { raw: Buffer; envelope: { from: string; to: string[] } }[]) {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    for (const message of messages)
      await transport.sendMail({ envelope: message.envelope, raw: message.raw });
  } finally {
    transport.close();
  }
}

async function signerFor(domain: string) {
  const signer = await t.container.sendingDomains.signerFor(t.workspaceId, domain);
  if (!signer) throw new Error(`no signer for ${domain}`);
  return signer;
}

function signedHeaderNames(raw: Buffer): string[] {
  const header = /^DKIM-Signature:((?:.*)(?:\r\n[ \t].*)*)/im.exec(raw.toString('latin1'))?.[1] ?? '';
  return (/\bh=([^;]+)/.exec(header)?.[1] ?? '').replace(/\s+/g, '').toLowerCase().split(':');
}

describe('DKIM-signed messages through a real SMTP server', () => {
  it('verify as pass with mailauth for RSA and Ed25519, with the required headers signed', async () => {
    await addDomain('rsa.example.com', 'rsa');
    await addDomain('ed.example.com', 'ed25519');
    const outgoing = [];
    for (const [index, domain] of ['rsa.example.com', 'ed.example.com'].entries()) {
      // Mail from a subdomain is signed with the parent's key.
      const signer = await signerFor(`news.${domain}`);
      expect(signer.domain).toBe(domain);
      for (let i = 0; i < 5; i++) {
        const built = await buildMessage(marketingInput(index * 100 + i, `news.${domain}`));
        outgoing.push({ raw: await signer.sign(built.raw), envelope: built.envelope });
      }
    }
    captured.length = 0;
    await sendAll(outgoing);
    expect(captured).toHaveLength(10);

    for (const message of captured) {
      const result = await dkimVerify(message.raw, { resolver, curTime: t.clock.now() });
      expect(result.results).toHaveLength(1);
      expect(result.results[0]?.status.result, result.results[0]?.info).toBe('pass');
      const h = signedHeaderNames(message.raw);
      for (const name of [
        'from',
        'subject',
        'date',
        'message-id',
        'to',
        'list-unsubscribe',
        'list-unsubscribe-post',
        'list-id',
        'reply-to',
        'mime-version',
        'content-type',
        'feedback-id',
      ]) {
        expect(h, `h= lacks ${name}`).toContain(name);
      }
      // The envelope sender is the VERP address; its token names the message.
      const local = message.from.split('@')[0] as string;
      expect(local.length).toBeLessThanOrEqual(64);
      const messageId = verifyReturnPathToken(t.container.keyring, local.slice(2));
      expect(message.raw.toString()).toContain(`Message-ID: <${messageId}@`);
      const url = /List-Unsubscribe: <https:\/\/herald\.example\.net\/u\/([A-Za-z0-9_-]+)>/.exec(
        message.raw.toString(),
      )?.[1];
      expect(
        verifyToken(t.container.keyring, 'unsubscribe', url as string, t.clock.now())?.contactId,
      ).toMatch(/^01900000-0000-7000-9000-/);
    }
  });

  it('fails verification for a message altered after signing', async () => {
    const signer = await signerFor('rsa.example.com');
    const built = await buildMessage(marketingInput(7, 'rsa.example.com'));
    const signed = (await signer.sign(built.raw)).toString('latin1');
    const altered = [
      signed.replace('Hello reader 7', 'Hello reader 8'),
      signed.replace('List-Unsubscribe-Post: List-Unsubscribe=One-Click', 'List-Unsubscribe-Post: nothing'),
      signed.replace(/List-Unsubscribe: <https:[^>]+>/, 'List-Unsubscribe: <https://evil.example/u/x>'),
    ];
    captured.length = 0;
    await sendAll(altered.map((text) => ({ raw: Buffer.from(text, 'latin1'), envelope: built.envelope })));
    expect(captured).toHaveLength(3);
    for (const message of captured) {
      const result = await dkimVerify(message.raw, { resolver, curTime: t.clock.now() });
      expect(result.results[0]?.status.result).not.toBe('pass');
    }
  });

  it('signs transactional messages, which carry no list headers', async () => {
    const signer = await signerFor('ed.example.com');
    const { marketing: _omitted, ...input } = marketingInput(9, 'ed.example.com');
    const built = await buildMessage(input);
    expect(built.raw.toString()).not.toMatch(/^(List-|Feedback-ID)/im);
    captured.length = 0;
    await sendAll([{ raw: await signer.sign(built.raw), envelope: built.envelope }]);
    const result = await dkimVerify(captured[0]?.raw as Buffer, { resolver, curTime: t.clock.now() });
    expect(result.results[0]?.status.result).toBe('pass');
  });

  it('has no signer for a domain the workspace does not have', async () => {
    expect(await t.container.sendingDomains.signerFor(t.workspaceId, 'example.org')).toBeUndefined();
    const other = await t.createWorkspace();
    expect(await t.container.sendingDomains.signerFor(other.workspaceId, 'rsa.example.com')).toBeUndefined();
  });
});
