import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';

const Email = Type.String({ format: 'email', maxLength: 320 });

export const MessageCreateBody = Type.Object(
  {
    to: Email,
    template_id: Type.Optional(
      Type.String({ format: 'uuid', description: 'A workspace template; its latest version is sent.' }),
    ),
    inline: Type.Optional(
      Type.Object(
        {
          subject: Type.String({ minLength: 1, maxLength: 2000 }),
          html: Type.Optional(Type.String({ maxLength: 1_000_000 })),
          text: Type.Optional(Type.String({ maxLength: 1_000_000 })),
        },
        {
          additionalProperties: false,
          description:
            "Content given with the request (Liquid), instead of template_id. html, text or both. May render the workspace's snippets ({% render 'footer' %}).",
        },
      ),
    ),
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Available to Liquid as `data`, next to `contact`.',
      }),
    ),
    from_email: Email,
    from_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    reply_to: Type.Optional(Email),
    transport_id: Type.Optional(
      Type.String({ format: 'uuid', description: "Default: the workspace's default transport." }),
    ),
    track: Type.Optional(
      Type.Boolean({
        description:
          'Add the open pixel and tracked links, as in campaigns (default false). Needs template_id: links are registered per template version. Contacts without tracking consent get the message untracked.',
      }),
    ),
    idempotency_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'The same request again with this key returns the first message (200) and sends nothing; a different request with it is refused (409 IDEMPOTENCY_KEY_REUSED).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Give exactly one of template_id and inline. The recipient becomes a contact if it is not one.',
  },
);

export const MessageSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    to: Type.String(),
    contact_id: Type.String({ format: 'uuid' }),
    status: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('failed')]),
    template_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    template_version_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    idempotency_key: Type.Union([Type.String(), Type.Null()]),
    message_id: Type.String({ description: 'The Message-ID header.' }),
    provider_message_id: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()], {
      description:
        "Why it failed: 'suppressed' for bounced, complained or blocked contacts, else the provider's reply.",
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
    sent_at: NullableTimestamp,
  },
  { title: 'Message' },
);
