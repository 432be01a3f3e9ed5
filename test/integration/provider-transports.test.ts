import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFileTransport,
  createMailgunTransport,
  createPostmarkTransport,
  createSendGridTransport,
  createSesTransport,
  TransportError,
} from '../../src/mail/transports/index.js';

const raw = Buffer.from(
  [
    'From: "Shop News" <news@shop.example>',
    'To: ann@example.com',
    'Reply-To: help@shop.example',
    'Subject: Spring sale',
    'Message-ID: <m1@shop.example>',
    'Date: Thu, 01 Jan 2026 00:00:00 +0000',
    'List-Unsubscribe: <https://shop.example/u/abc>, <mailto:u@shop.example>',
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    'DKIM-Signature: v=1; a=rsa-sha256; d=shop.example; s=s1; b=xyz',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello Ann',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Hello Ann</p>',
    '--b1--',
    '',
  ].join('\r\n'),
);
const message = {
  raw,
  envelope: { from: 'bounce@shop.example', to: ['ann@example.com'] },
  messageId: '<m1@shop.example>',
};

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
/** What the next request gets; a test sets it before sending. */
let answer: (request: Seen) => Answer = () => ({ status: 500 });

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(request);
      const a = answer(request);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body === undefined ? '' : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

/**
 * SigV4 as the AWS documentation describes it, written separately from
 * src/mail/transports/sigv4.ts so the test server checks the signature
 * rather than trusting the code under test.
 */
function expectedSesAuthorization(request: Seen, secret: string): string {
  const auth = String(request.headers.authorization);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1] ?? '';
  const credential = /Credential=([^,]+)/.exec(auth)?.[1] ?? '';
  const [accessKey, date, region, service] = credential.split('/');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(request.headers[name]).trim()}\n`)
    .join('');
  const hash = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
  const canonical = ['POST', request.url, '', canonicalHeaders, signedHeaders, hash(request.body)].join('\n');
  const amzDate = String(request.headers['x-amz-date']);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash(canonical)}`;
  let key: Buffer = createHmac('sha256', `AWS4${secret}`)
    .update(date ?? '')
    .digest();
  for (const part of [region, service, 'aws4_request'])
    key = createHmac('sha256', key)
      .update(part ?? '')
      .digest();
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

describe('ses transport', () => {
  const ses = () =>
    createSesTransport({
      region: 'eu-west-1',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      endpoint: base,
      configurationSetName: 'marketing',
      now: () => new Date('2026-03-01T10:00:00Z'),
    });

  it('sends SendEmail v2 with the raw message, signed with SigV4', async () => {
    answer = () => ({ status: 200, body: { MessageId: '0100018e-ses-id' } });
    const result = await ses().send(message);
    expect(result.providerMessageId).toBe('0100018e-ses-id');
    const request = seen.at(-1) as Seen;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v2/email/outbound-emails');
    expect(request.headers['x-amz-date']).toBe('20260301T100000Z');
    expect(String(request.headers.authorization)).toContain(
      'Credential=AKIDEXAMPLE/20260301/eu-west-1/ses/aws4_request',
    );
    expect(request.headers.authorization).toBe(
      expectedSesAuthorization(request, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'),
    );
    const body = JSON.parse(request.body.toString());
    expect(body.Destination).toEqual({ ToAddresses: ['ann@example.com'] });
    expect(body.ConfigurationSetName).toBe('marketing');
    expect(Buffer.from(body.Content.Raw.Data, 'base64').equals(raw)).toBe(true);
  });

  it('classifies its documented errors', async () => {
    const cases: [Answer, string, string | number][] = [
      [
        {
          status: 400,
          headers: { 'x-amzn-errortype': 'MessageRejected:http://internal.amazon.com/' },
          body: { message: 'Email address is not verified.' },
        },
        'permanent',
        'MessageRejected',
      ],
      [
        {
          status: 429,
          headers: { 'x-amzn-errortype': 'TooManyRequestsException' },
          body: { message: 'Maximum sending rate exceeded.' },
        },
        'temporary',
        'TooManyRequestsException',
      ],
      [
        { status: 400, body: { __type: 'LimitExceededException', message: 'Daily quota exceeded' } },
        'temporary',
        'LimitExceededException',
      ],
      [
        {
          status: 403,
          headers: { 'x-amzn-errortype': 'SignatureDoesNotMatch' },
          body: { message: 'bad signature' },
        },
        'connection',
        'SignatureDoesNotMatch',
      ],
      [{ status: 503, body: { message: 'Service Unavailable' } }, 'temporary', 503],
    ];
    for (const [reply, kind, code] of cases) {
      answer = () => reply;
      const error = await failure(ses().send(message));
      expect([error.kind, error.code]).toEqual([kind, code]);
    }
    answer = () => ({
      status: 400,
      headers: { 'x-amzn-errortype': 'MessageRejected' },
      body: { message: 'Email address is not verified.' },
    });
    expect((await failure(ses().send(message))).providerMessage).toBe('Email address is not verified.');
  });
});

describe('mailgun transport', () => {
  const mailgun = () =>
    createMailgunTransport({ domain: 'mg.shop.example', apiKey: 'key-123', baseUrl: base });

  it('posts messages.mime as multipart with to and message, Basic api:<key>', async () => {
    answer = () => ({
      status: 200,
      body: { id: '<20260301.1@mg.shop.example>', message: 'Queued. Thank you.' },
    });
    const result = await mailgun().send(message);
    expect(result.providerMessageId).toBe('<20260301.1@mg.shop.example>');
    const request = seen.at(-1) as Seen;
    expect([request.method, request.url]).toEqual(['POST', '/v3/mg.shop.example/messages.mime']);
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('api:key-123').toString('base64')}`);
    expect(String(request.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    const form = await new Request('http://x/', {
      method: 'POST',
      headers: { 'content-type': String(request.headers['content-type']) },
      body: request.body,
    }).formData();
    expect(form.getAll('to')).toEqual(['ann@example.com']);
    const file = form.get('message') as File;
    expect(Buffer.from(await file.arrayBuffer()).equals(raw)).toBe(true);
  });

  it('classifies its error responses', async () => {
    for (const [status, body, kind] of [
      [400, { message: "'to' parameter is not a valid address. please check documentation" }, 'permanent'],
      [401, undefined, 'connection'],
      [429, { message: 'Too many requests' }, 'temporary'],
      [500, { message: 'Internal error' }, 'temporary'],
    ] as const) {
      answer = () => ({ status, body });
      const error = await failure(mailgun().send(message));
      expect([error.kind, error.code]).toEqual([kind, status]);
    }
  });
});

describe('sendgrid transport', () => {
  const sendgrid = () => createSendGridTransport({ apiKey: 'SG.key', baseUrl: base });

  it('maps the message into v3 mail/send JSON with Bearer auth', async () => {
    answer = () => ({ status: 202, headers: { 'x-message-id': 'sg-abc' } });
    expect((await sendgrid().send(message)).providerMessageId).toBe('sg-abc');
    const request = seen.at(-1) as Seen;
    expect([request.method, request.url]).toEqual(['POST', '/v3/mail/send']);
    expect(request.headers.authorization).toBe('Bearer SG.key');
    const body = JSON.parse(request.body.toString());
    expect(body.personalizations).toEqual([{ to: [{ email: 'ann@example.com' }] }]);
    expect(body.from).toEqual({ email: 'news@shop.example', name: 'Shop News' });
    expect(body.reply_to).toEqual({ email: 'help@shop.example' });
    expect(body.subject).toBe('Spring sale');
    expect(body.content.map((c: { type: string }) => c.type)).toEqual(['text/plain', 'text/html']);
    expect(body.content[1].value).toContain('<p>Hello Ann</p>');
    expect(body.headers).toEqual({
      'Message-ID': '<m1@shop.example>',
      'List-Unsubscribe': '<https://shop.example/u/abc>, <mailto:u@shop.example>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
  });

  it('classifies its error responses', async () => {
    for (const [status, kind] of [
      [400, 'permanent'],
      [401, 'connection'],
      [403, 'connection'],
      [429, 'temporary'],
      [500, 'temporary'],
    ] as const) {
      answer = () => ({
        status,
        body: { errors: [{ message: `error ${status}`, field: null, help: null }] },
      });
      const error = await failure(sendgrid().send(message));
      expect([error.kind, error.code, error.providerMessage]).toEqual([kind, status, `error ${status}`]);
    }
  });
});

describe('postmark transport', () => {
  const postmark = () =>
    createPostmarkTransport({ serverToken: 'pm-token', messageStream: 'broadcast', baseUrl: base });

  it('maps the message into POST /email with the server token header', async () => {
    answer = () => ({
      status: 200,
      body: {
        To: 'ann@example.com',
        SubmittedAt: '2026-03-01T10:00:00Z',
        MessageID: 'pm-1',
        ErrorCode: 0,
        Message: 'OK',
      },
    });
    expect((await postmark().send(message)).providerMessageId).toBe('pm-1');
    const request = seen.at(-1) as Seen;
    expect([request.method, request.url]).toEqual(['POST', '/email']);
    expect(request.headers['x-postmark-server-token']).toBe('pm-token');
    expect(request.headers.accept).toBe('application/json');
    const body = JSON.parse(request.body.toString());
    expect(body).toMatchObject({
      From: '"Shop News" <news@shop.example>',
      To: 'ann@example.com',
      Subject: 'Spring sale',
      ReplyTo: 'help@shop.example',
      MessageStream: 'broadcast',
    });
    expect(body.TextBody.trim()).toBe('Hello Ann');
    expect(body.HtmlBody).toContain('<p>Hello Ann</p>');
    expect(body.Headers).toContainEqual({
      Name: 'List-Unsubscribe-Post',
      Value: 'List-Unsubscribe=One-Click',
    });
    expect(body.Headers.map((h: { Name: string }) => h.Name)).not.toContain('DKIM-Signature');
  });

  it('classifies its ErrorCodes', async () => {
    for (const [status, code, kind] of [
      [422, 406, 'permanent'],
      [422, 300, 'permanent'],
      [401, 10, 'connection'],
      [422, 400, 'connection'],
      [429, 429, 'temporary'],
      [500, 500, 'temporary'],
    ] as const) {
      answer = () => ({ status, body: { ErrorCode: code, Message: `code ${code}` } });
      const error = await failure(postmark().send(message));
      expect([error.kind, error.code, error.providerMessage]).toEqual([kind, code, `code ${code}`]);
    }
  });
});

describe('provider transports on the network', () => {
  it('report an unreachable API as a connection error and refuse plain http to other hosts', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(
      createSendGridTransport({ apiKey: 'k', baseUrl: `http://127.0.0.1:${port}` }).send(message),
    );
    expect(error.kind).toBe('connection');
    expect(() => createSendGridTransport({ apiKey: 'k', baseUrl: 'http://api.example.com' })).toThrow(
      /https/,
    );
  });
});

describe('file transport', () => {
  it('writes <messageId>.eml atomically and leaves no temporary files', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'herald-outbox-'));
    try {
      const transport = createFileTransport({ folder: join(folder, 'outbox') });
      const result = await transport.send(message);
      expect(result.providerMessageId).toBe('m1@shop.example.eml');
      expect(await readdir(join(folder, 'outbox'))).toEqual(['m1@shop.example.eml']);
      expect((await readFile(join(folder, 'outbox', 'm1@shop.example.eml'))).equals(raw)).toBe(true);
      await transport.send({ ...message, messageId: '<../../evil@x>' });
      expect((await readdir(join(folder, 'outbox'))).sort()).toEqual([
        '__.._evil@x.eml',
        'm1@shop.example.eml',
      ]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
