import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { generateSecretKey, parseSecretKeys } from '../lib/secret-keys.js';
import { verifyAddressToken, verifyReturnPathToken, verifyToken } from '../lib/signed-tokens.js';
import {
  buildMessage,
  feedbackId,
  type MessageInput,
  returnPathAddress,
  unsubscribeLinks,
} from './message-builder.js';

const keyring = parseSecretKeys(generateSecretKey());
const ws = '01900000-0000-7000-8000-00000000000a';
const ids = {
  messageId: '01900000-0000-7000-8000-000000000001',
  contactId: '01900000-0000-7000-8000-000000000002',
  campaignId: '01900000-0000-7000-8000-000000000003',
  listId: '01900000-0000-7000-8000-000000000004',
};
const links = unsubscribeLinks(keyring, {
  publicUrl: 'https://h.example.net/',
  domain: 'news.example.com',
  workspaceId: ws,
  ...ids,
});
const input: MessageInput = {
  id: ids.messageId,
  domain: 'news.example.com',
  date: new Date('2030-01-02T03:04:05Z'),
  from: { name: 'Acme', email: 'news@news.example.com' },
  to: { email: 'reader@example.org' },
  subject: 'Hello',
  html: '<p>Hi</p>',
  text: 'Hi',
  returnPath: returnPathAddress(keyring, ids.messageId, 'bounces.example.com'),
  marketing: {
    unsubscribeUrl: links.url,
    unsubscribeMailto: links.mailto,
    list: { id: ids.listId, name: 'Weekly "News"\r\nX-Injected: 1', workspaceId: ws },
    feedbackId: feedbackId({ ...ids, workspaceId: ws, senderId: 'herald' }),
  },
};

describe('buildMessage', () => {
  it('writes the marketing headers, Message-ID, Date and the VERP envelope', async () => {
    const built = await buildMessage(input);
    const text = built.raw.toString();
    expect(built.messageId).toBe(`<${ids.messageId}@news.example.com>`);
    expect(text).toContain(`Message-ID: ${built.messageId}\r\n`);
    expect(text).toContain('Date: Wed, 02 Jan 2030 03:04:05 +0000\r\n');
    expect(text).toContain(`List-Unsubscribe: <${links.url}>,\r\n <mailto:${links.mailto}>\r\n`);
    expect(text).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    expect(text).toMatch(
      new RegExp(
        `List-ID: "Weekly NewsX-Injected: 1" <${ids.listId}\\.${ws}\\.news\\.example\\.com>\\r\\n`,
        'i',
      ),
    );
    expect(text).not.toMatch(/^X-Injected/m);
    expect(text).toContain(`Feedback-ID: ${ids.campaignId}:${ids.listId}:${ws}:herald\r\n`);
    expect(text).toContain('multipart/alternative');
    expect(text).not.toMatch(/^(Return-Path|Bcc):/im);
    expect(built.envelope.to).toEqual(['reader@example.org']);
    const [local, domain] = built.envelope.from.split('@');
    expect(domain).toBe('bounces.example.com');
    expect(local?.length).toBeLessThanOrEqual(64);
    expect(verifyReturnPathToken(keyring, (local as string).slice(2))).toBe(ids.messageId);
    expect(links.url).toMatch(/^https:\/\/h\.example\.net\/u\//);
    expect(verifyToken(keyring, 'unsubscribe', links.url.split('/u/')[1] as string, input.date)).toEqual({
      workspaceId: ws,
      contactId: ids.contactId,
      campaignId: ids.campaignId,
      listId: ids.listId,
    });
    expect(links.mailto.split('@')[0]?.length).toBeLessThanOrEqual(64);
    expect(verifyAddressToken(keyring, 'unsubscribe', links.mailto.slice(2).split('@')[0] as string)).toBe(
      ids.messageId,
    );
  });

  it('ends every line with CRLF even when the parts use bare LF, so DKIM body hashes survive SMTP', async () => {
    const built = await buildMessage({
      ...input,
      text: 'line one\nline two\n\nline four',
      html: '<p>a</p>\n<p>b</p>',
    });
    expect(built.raw.toString('latin1')).not.toMatch(/[^\r]\n/);
  });

  it('omits the list headers on transactional messages', async () => {
    const { marketing: _m, ...transactional } = input;
    const text = (await buildMessage(transactional)).raw.toString();
    expect(text).not.toMatch(/^(List-[A-Za-z-]+|Feedback-ID):/im);
  });

  it('round-trips through an independent parser: encoded headers, both parts, any script', async () => {
    const html = `<p style="color: red">Grüße, ${'ä'.repeat(200)} = 100% </p>\nFrom here on\n<p>${'x'.repeat(300)}</p>   `;
    const text = `Привет ${'мир '.repeat(60)}\nline with trailing blanks   \n\nFrom the team`;
    const built = buildMessage({
      ...input,
      from: { name: 'Jürgen "JJ" Ämter', email: 'news@news.example.com' },
      to: { name: "O'Brien, Pat", email: 'pat@bücher.example' },
      subject: `Ünïcödé ${'news '.repeat(30)}✓`,
      html,
      text,
    });
    const raw = built.raw.toString('latin1');
    for (const line of raw.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    const body = raw.slice(raw.indexOf('\r\n\r\n'));
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(raw).toContain('To: "O\'Brien, Pat" <pat@xn--bcher-kva.example>\r\n');

    const parsed = await simpleParser(built.raw);
    expect(parsed.subject).toBe(`Ünïcödé ${'news '.repeat(30)}✓`);
    expect(parsed.from?.value[0]).toEqual({ name: 'Jürgen "JJ" Ämter', address: 'news@news.example.com' });
    // The parser hands text back with LF line ends.
    expect(parsed.html).toBe(html);
    expect(parsed.text).toBe(text);
    expect(parsed.messageId).toBe(built.messageId);
  });

  it('builds single-part messages when only HTML or only text is given', async () => {
    const htmlOnly = await simpleParser(buildMessage({ ...input, text: undefined }).raw);
    expect(htmlOnly.html).toBe('<p>Hi</p>');
    expect(htmlOnly.headers.get('content-type')).toMatchObject({ value: 'text/html' });
    const textOnly = await simpleParser(buildMessage({ ...input, html: undefined }).raw);
    expect(textOnly.text).toBe('Hi');
    expect(textOnly.html).toBe(false);
  });

  it('keeps header values on one header: line breaks in a subject or name cannot add headers', () => {
    const raw = buildMessage({
      ...input,
      subject: 'Hi\r\nBcc: victim@example.com',
      from: { name: 'Shop\nX-Evil: 1', email: 'news@news.example.com' },
    }).raw.toString();
    expect(raw).not.toMatch(/^(Bcc|X-Evil):/im);
  });
});
