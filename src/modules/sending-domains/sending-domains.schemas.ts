import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';

export const DkimAlgorithmSchema = Type.Union([Type.Literal('rsa'), Type.Literal('ed25519')], {
  description:
    'rsa (2048 bits) is verified by every mailbox provider; ed25519 (RFC 8463) is faster and smaller but not verified by all yet.',
});

const CheckStatusSchema = Type.Union(
  [
    Type.Literal('pass'),
    Type.Literal('warn'),
    Type.Literal('fail'),
    Type.Literal('skipped'),
    Type.Literal('error'),
  ],
  { description: 'error: the lookup itself failed (timeout, SERVFAIL), so nothing was concluded.' },
);

export const DnsRecordSchema = Type.Object({
  purpose: Type.Union([
    Type.Literal('dkim'),
    Type.Literal('spf'),
    Type.Literal('dmarc'),
    Type.Literal('bounce'),
  ]),
  name: Type.String(),
  type: Type.Union([Type.Literal('TXT'), Type.Literal('MX')]),
  value: Type.String({ description: 'For MX: "<priority> <host>".' }),
  note: Type.String({ description: 'What the record is for and how to merge it with one you have.' }),
});

export const DomainCheckSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('verified'), Type.Literal('failed'), Type.Literal('inconclusive')], {
      description:
        'verified: DKIM and SPF pass and DMARC is published (p=none counts, with a warning); inconclusive: a lookup those need failed, and the domain keeps its status.',
    }),
    from_domain: Type.String({ description: 'The From domain alignment and DMARC were checked for.' }),
    checked_at: Type.String({ format: 'date-time' }),
    items: Type.Array(
      Type.Object({
        check: Type.Union([
          Type.Literal('spf'),
          Type.Literal('dkim'),
          Type.Literal('dmarc'),
          Type.Literal('alignment'),
          Type.Literal('mx'),
          Type.Literal('ptr'),
        ]),
        status: CheckStatusSchema,
        name: Type.String({ description: 'The DNS name looked up (the From domain for alignment).' }),
        found: Type.Array(Type.String(), { description: 'The records found there that the check read.' }),
        message: Type.String(),
        fix: Type.Union([Type.String(), Type.Null()], { description: 'What to change; null when nothing.' }),
      }),
    ),
  },
  { title: 'SendingDomainCheck' },
);

const ReturnPathDomainSchema = Type.Union([Type.String({ minLength: 1, maxLength: 253 }), Type.Null()], {
  description:
    'A dedicated Return-Path (bounce) domain, e.g. bounces.news.example.com: the envelope sender becomes b-<token>@<this domain>, so SPF and the bounce MX live there and the From domain keeps its own MX. It must be the sending domain, a subdomain of it, or share its organizational domain (so SPF aligns under relaxed DMARC). null: the envelope sender is at the From domain.',
});

export const SendingDomainSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    domain: Type.String({ description: 'Lowercase ASCII; international names in punycode.' }),
    selector: Type.String(),
    algorithm: DkimAlgorithmSchema,
    dns_record: Type.Object(
      {
        name: Type.String({ description: '<selector>._domainkey.<domain>' }),
        type: Type.Literal('TXT'),
        value: Type.String({
          description:
            'Publish as one TXT record; DNS providers split values over 255 characters into several strings themselves or ask you to.',
        }),
      },
      { description: 'The DKIM record to publish in DNS before sending (also the first of dns_records).' },
    ),
    dns_records: Type.Array(DnsRecordSchema, {
      description:
        'Every record to publish: DKIM, SPF, a DMARC start and, when HERALD_BOUNCE_MX_HOST is set, the MX that receives bounces. With a return_path_domain, SPF and the bounce MX go on that domain; DKIM and DMARC stay on the sending domain.',
    }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('verified'), Type.Literal('failed')], {
      description:
        'pending until the first conclusive check. A failed domain refuses new campaigns and messages unless allow_unverified.',
    }),
    allow_unverified: Type.Boolean({
      description: 'Send from this domain even when its last check failed.',
    }),
    return_path_domain: Type.Union([Type.String(), Type.Null()], {
      description:
        'The Return-Path (bounce) domain: mail this domain signs goes out with the envelope sender b-<token>@<return_path_domain>. null: the envelope sender is at the From domain.',
    }),
    checked_at: NullableTimestamp,
    last_check: Type.Union([DomainCheckSchema, Type.Null()]),
    created_at: Timestamp,
  },
  { title: 'SendingDomain' },
);

export const SendingDomainCreateBody = Type.Object(
  {
    domain: Type.String({ minLength: 1, maxLength: 253, description: 'e.g. mail.example.com' }),
    selector: Type.Optional(
      Type.String({ minLength: 1, maxLength: 63, description: 'DKIM selector; default herald.' }),
    ),
    algorithm: Type.Optional(DkimAlgorithmSchema),
    private_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 10000,
        description:
          'Import an existing unencrypted PEM private key instead of letting Herald generate one. Stored encrypted; never returned.',
      }),
    ),
    return_path_domain: Type.Optional(ReturnPathDomainSchema),
  },
  {
    additionalProperties: false,
    description: 'algorithm defaults to rsa, or to the type of an imported key.',
  },
);

export const SendingDomainListQuery = Type.Object(PageQuery, { additionalProperties: false });

export const SendingDomainUpdateBody = Type.Object(
  {
    allow_unverified: Type.Optional(
      Type.Boolean({
        description:
          'true sends from the domain even when its last check failed (e.g. while DNS propagates).',
      }),
    ),
    return_path_domain: Type.Optional(ReturnPathDomainSchema),
  },
  { additionalProperties: false },
);

export const SendingDomainCheckQuery = Type.Object(
  {
    from_email: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 320,
        description:
          'The From address you will send with; default: an address at the domain. DMARC and alignment are checked for its domain.',
      }),
    ),
  },
  { additionalProperties: false },
);
