import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';

const AttributeName = Type.String({ minLength: 1, maxLength: 64 });
const MergeFields = Type.Record(Type.String({ minLength: 1, maxLength: 10 }), AttributeName, {
  description:
    'Merge tag -> Herald attribute, e.g. {"FNAME": "first_name"}. Each tag must exist in the audience; an empty merge value leaves the attribute alone.',
});

const TagHandlingInput = Type.Object(
  {
    mode: Type.Union([Type.Literal('ignore'), Type.Literal('attribute'), Type.Literal('lists')], {
      description:
        'ignore: tags are not imported. attribute: the tag names as a JSON array in `attribute`. lists: members with a tag join the Herald list `lists[tag]` with the same status as their audience membership; when the tag is removed in Mailchimp, the next import or sync that reads the member takes back the memberships the tag created (never one that existed before, nor an unsubscribe).',
    }),
    attribute: Type.Optional(AttributeName),
    lists: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ format: 'uuid' })),
    ),
  },
  { additionalProperties: false },
);

export const MailchimpConnectionBody = Type.Object(
  {
    api_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Mailchimp API key (…-us21). Required the first time; omit it later to keep the stored key. Stored encrypted, never returned.',
      }),
    ),
    audience_id: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'The Mailchimp audience (list) id.',
    }),
    list_id: Type.String({
      format: 'uuid',
      description: "The Herald list that mirrors the audience's subscriptions.",
    }),
    merge_fields: Type.Optional(MergeFields),
    tags: Type.Optional(TagHandlingInput),
    sync_enabled: Type.Optional(
      Type.Boolean({ description: 'Periodic sync of changes (HERALD_CRM_SYNC_INTERVAL_MS); default true.' }),
    ),
  },
  { additionalProperties: false },
);

export const MailchimpConnectionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    provider: Type.Literal('mailchimp'),
    data_center: Type.String(),
    audience_id: Type.String(),
    audience_name: Type.String(),
    list_id: Type.String({ format: 'uuid' }),
    merge_fields: Type.Record(Type.String(), Type.String()),
    tags: Type.Object(
      {
        mode: Type.String(),
        attribute: Type.Optional(Type.String()),
        lists: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: false },
    ),
    sync_enabled: Type.Boolean(),
    synced_until: Type.Union([Timestamp, Type.Null()], {
      description: 'The next sync reads members changed after this time (less a 5-minute overlap).',
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'MailchimpConnection', additionalProperties: false },
);

export const RunSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    connection_id: Type.String({ format: 'uuid' }),
    kind: Type.Union([Type.Literal('import'), Type.Literal('sync'), Type.Literal('push')]),
    status: Type.Union([
      Type.Literal('queued'),
      Type.Literal('running'),
      Type.Literal('completed'),
      Type.Literal('failed'),
    ]),
    since: NullableTimestamp,
    pages: Type.Integer(),
    processed: Type.Integer({ description: 'Records read so far (the offset of the next page).' }),
    total: Type.Union([Type.Integer(), Type.Null()]),
    counts: Type.Record(Type.String(), Type.Integer(), {
      description:
        'fetched, contacts_created, contacts_updated, memberships_added / _changed / _unchanged / _kept_unsubscribed, suppressed, skipped_transactional, skipped_archived, failed.',
    }),
    problems: Type.Array(
      Type.Object({
        position: Type.Integer(),
        email: Type.Union([Type.String(), Type.Null()]),
        reason: Type.String(),
      }),
      { description: 'The first 100 records that could not be applied, with the reason.' },
    ),
    error: Type.Union([Type.String(), Type.Null()], {
      description: 'Why the run failed, or the last temporary error it is retrying after.',
    }),
    created_at: Timestamp,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
  },
  { title: 'ConnectorRun', additionalProperties: false },
);

export const HubspotConnectionBody = Type.Object(
  {
    token: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 500,
        description:
          'HubSpot private app token (scopes crm.objects.contacts.read and .write, crm.schemas.contacts.read). Required the first time; omit it later to keep the stored one. Stored encrypted, never returned.',
      }),
    ),
    properties: Type.Record(Type.String({ minLength: 1, maxLength: 100 }), AttributeName, {
      description:
        'HubSpot contact property (internal name) -> Herald attribute, used both ways: pulls set the attribute, pushes send it. email is always the key.',
    }),
    sync_enabled: Type.Optional(
      Type.Boolean({ description: 'Periodic pull of changed contacts; default true.' }),
    ),
    push_enabled: Type.Optional(
      Type.Boolean({ description: 'Push Herald changes to HubSpot after every pull; default true.' }),
    ),
  },
  { additionalProperties: false },
);

export const HubspotConnectionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    provider: Type.Literal('hubspot'),
    properties: Type.Record(Type.String(), Type.String()),
    sync_enabled: Type.Boolean(),
    push_enabled: Type.Boolean(),
    synced_until: NullableTimestamp,
    pushed_until: Type.Union([Timestamp, Type.Null()], {
      description: 'Herald contacts changed at or after this time are in the next push.',
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'HubspotConnection', additionalProperties: false },
);

const AttributeTypeSchema = Type.Union([
  Type.Literal('string'),
  Type.Literal('number'),
  Type.Literal('boolean'),
  Type.Literal('date'),
  Type.Literal('json'),
]);

export const FieldMappingSchema = Type.Record(
  Type.String({ minLength: 1, maxLength: 100 }),
  Type.Object({ attribute: AttributeName, type: AttributeTypeSchema }, { additionalProperties: false }),
  {
    description:
      'CRM field name -> Herald attribute and its type, e.g. {"FirstName": {"attribute": "first_name", "type": "string"}}. A type must match the attribute\'s definition when it has one.',
    maxProperties: 500,
  },
);

export const FieldMappingBody = Type.Object({ fields: FieldMappingSchema }, { additionalProperties: false });

export const FieldMappingView = Type.Object(
  { fields: FieldMappingSchema, updated_at: NullableTimestamp },
  { title: 'CrmFieldMapping', additionalProperties: false },
);

export const CrmContactsBody = Type.Object(
  {
    contacts: Type.Array(
      Type.Object(
        {
          external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
          email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
          fields: Type.Optional(
            Type.Record(Type.String(), Type.Unknown(), {
              description: 'CRM field -> value; null removes the attribute.',
            }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);

export const CrmContactsResult = Type.Object(
  {
    created: Type.Integer(),
    updated: Type.Integer(),
    failed: Type.Integer(),
    results: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'Position of the item in contacts.' }),
        status: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('failed')]),
        contact_id: Type.Optional(Type.String({ format: 'uuid' })),
        code: Type.Optional(Type.String({ description: 'Error code of a failed item.' })),
        reason: Type.Optional(Type.String({ description: 'What was wrong with a failed item.' })),
      }),
    ),
  },
  { title: 'CrmContactsResult' },
);
