import { Type } from 'typebox';

export const TokenParams = Type.Object(
  { token: Type.String({ maxLength: 400, description: 'Signed tracking token from the message.' }) },
  { additionalProperties: false },
);

export const Gif = Type.Unsafe<Buffer>({
  type: 'string',
  format: 'binary',
  description: 'A 43-byte transparent 1x1 GIF (also sent, with status 404, for an invalid token).',
});

export const Html = Type.String({ description: 'A minimal HTML page.' });

export const IpAnonymizationSchema = Type.Union(
  [Type.Literal('none'), Type.Literal('truncate'), Type.Literal('drop')],
  {
    description:
      'What is stored of an open or click IP address: none (the full address), truncate (IPv4 /24, IPv6 /48; the default) or drop (nothing).',
  },
);

export const TrackingSettingsSchema = Type.Object(
  { ip_anonymization: IpAnonymizationSchema },
  { title: 'TrackingSettings' },
);

export const TrackingSettingsPatch = Type.Object(
  { ip_anonymization: Type.Optional(IpAnonymizationSchema) },
  { additionalProperties: false, minProperties: 1 },
);

export const ReclassifyResult = Type.Object(
  {
    examined: Type.Integer({ description: 'Hits read.' }),
    changed: Type.Integer({ description: 'Hits whose classification changed.' }),
  },
  { title: 'ReclassifyResult' },
);
