import { type TSchema, Type } from 'typebox';

/**
 * The Segment HTTP tracking API's shapes (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/).
 * The fields Segment's libraries send are listed; anything else is refused, as
 * everywhere in Herald. Free-form parts (properties, traits, context,
 * integrations) take any JSON object.
 */
const Id = Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Number()], {
  description: 'A string (numbers are accepted and read as text).',
});
const FreeObject = (description: string) => Type.Object({}, { additionalProperties: true, description });
const Time = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });

const common = {
  userId: Type.Optional(
    Type.Union([Id, Type.Null()], {
      description:
        "Your id for the person: matched to the contact's external_id, else to its email. userId or anonymousId is required.",
    }),
  ),
  anonymousId: Type.Optional(
    Type.Union([Id, Type.Null()], {
      description:
        'A device or visitor id. Events with only an anonymousId are kept and attached to the contact once an identify names both.',
    }),
  ),
  context: Type.Optional(
    FreeObject(
      'Segment context. context.traits.email finds the contact when the userId does not; context.timezone and context.locale are copied to the contact on identify.',
    ),
  ),
  integrations: Type.Optional(FreeObject('Accepted and ignored.')),
  timestamp: Type.Optional(
    Time(
      'When it happened, ISO 8601 with a time zone (default: when Herald received it). At most a day ahead, and within the event retention.',
    ),
  ),
  originalTimestamp: Type.Optional(
    Time('The sender-clock time; corrected by sentAt for clock skew when timestamp is absent.'),
  ),
  sentAt: Type.Optional(Time('When the sender sent it, by its own clock.')),
  receivedAt: Type.Optional(Time('Ignored: Herald records its own.')),
  messageId: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        'Idempotency key: a retry with the same messageId is stored once (remembered for HERALD_EVENT_DEDUP_DAYS).',
    }),
  ),
  channel: Type.Optional(Type.String({ maxLength: 100 })),
  version: Type.Optional(Type.Union([Type.String({ maxLength: 20 }), Type.Number()])),
  writeKey: Type.Optional(
    Type.String({ maxLength: 200, description: 'Ignored: authenticate with a header.' }),
  ),
  _metadata: Type.Optional(FreeObject('Library metadata; ignored.')),
};

export const TrackBody = Type.Object(
  {
    ...common,
    type: Type.Optional(Type.Literal('track')),
    event: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The event name, e.g. Order Completed.',
    }),
    properties: Type.Optional(FreeObject('Event properties (any JSON); segments filter on them by path.')),
  },
  { additionalProperties: false, title: 'TrackEvent' },
);

export const IdentifyBody = Type.Object(
  {
    ...common,
    type: Type.Optional(Type.Literal('identify')),
    traits: Type.Optional(
      FreeObject(
        'traits.email creates or updates the contact (with userId as its external_id); every other trait is stored as a contact attribute (defined attributes are type-checked).',
      ),
    ),
  },
  { additionalProperties: false, title: 'IdentifyEvent' },
);

const pageLike = (type: 'page' | 'screen') =>
  Type.Object(
    {
      ...common,
      type: Type.Optional(Type.Literal(type)),
      name: Type.Optional(Type.String({ maxLength: 200 })),
      category: Type.Optional(Type.String({ maxLength: 200 })),
      properties: Type.Optional(FreeObject(`${type} properties (url, path, title, ...).`)),
    },
    { additionalProperties: false, title: type === 'page' ? 'PageEvent' : 'ScreenEvent' },
  );
export const PageBody = pageLike('page');
export const ScreenBody = pageLike('screen');

export const BATCH_MAX_EVENTS = 500;

export const BatchBody = Type.Object(
  {
    batch: Type.Array(
      // Any value: each event is checked on its own, so one bad event cannot refuse the others.
      Type.Unknown({
        description:
          'A track, identify, page or screen call (an object with its `type`). Each is checked on its own: a bad one is reported by index, the others are stored.',
      }),
      { maxItems: BATCH_MAX_EVENTS, description: `Up to ${BATCH_MAX_EVENTS} events.` },
    ),
    context: Type.Optional(FreeObject("Merged into each event's context (the event's own keys win).")),
    integrations: Type.Optional(FreeObject('Accepted and ignored.')),
    sentAt: Type.Optional(Time('When the sender sent the batch, by its own clock (skew correction).')),
    writeKey: Type.Optional(Type.String({ maxLength: 200 })),
    _metadata: Type.Optional(FreeObject('Library metadata; ignored.')),
  },
  { additionalProperties: false, title: 'EventBatch' },
);

export const EVENT_SCHEMAS: Record<'track' | 'identify' | 'page' | 'screen', TSchema> = {
  track: TrackBody,
  identify: IdentifyBody,
  page: PageBody,
  screen: ScreenBody,
};

export const IngestResult = Type.Object(
  {
    success: Type.Boolean({ description: 'true, as Segment answers; errors are 4xx problems.' }),
    duplicate: Type.Boolean({ description: 'The messageId was seen before: nothing new was stored.' }),
  },
  { title: 'IngestResult' },
);

export const BatchResult = Type.Object(
  {
    success: Type.Boolean({ description: 'true when every event was stored or was a duplicate.' }),
    accepted: Type.Integer({ description: 'Events stored.' }),
    duplicates: Type.Integer({ description: 'Events whose messageId was seen before (not stored again).' }),
    rejected: Type.Integer(),
    errors: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'Position of the event in `batch`, from 0.' }),
        path: Type.String({ description: 'JSON pointer into the request body, e.g. /batch/3/timestamp.' }),
        message: Type.String(),
      }),
    ),
  },
  { title: 'BatchResult' },
);
