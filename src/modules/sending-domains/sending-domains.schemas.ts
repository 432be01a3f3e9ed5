import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';

export const DkimAlgorithmSchema = Type.Union([Type.Literal('rsa'), Type.Literal('ed25519')], {
  description:
    'rsa (2048 bits) is verified by every mailbox provider; ed25519 (RFC 8463) is faster and smaller but not verified by all yet.',
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
      { description: 'The DKIM record to publish in DNS before sending.' },
    ),
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
  },
  {
    additionalProperties: false,
    description: 'algorithm defaults to rsa, or to the type of an imported key.',
  },
);

export const SendingDomainListQuery = Type.Object(PageQuery, { additionalProperties: false });
