import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';

const Uuid = Type.String({ format: 'uuid' });

/**
 * The definition is checked by the automations service, not by the request
 * schema: its errors then name the failing part by JSON pointer and node id
 * (/definition/nodes/3/next, node "wait_1d") with what to change, instead of
 * the schema validator's list of every alternative that did not match.
 */
export const AutomationDefinitionSchema = Type.Unsafe<unknown>({
  type: 'object',
  description:
    '{"trigger": {...}, "sender": {"from_email", "from_name", "reply_to", "transport_id"}, "entry": {"mode": "once" | "once_at_a_time" | "again_after", "days"}, "instance_key", "exit_on": [...], ' +
    '"goal": {"event", "where", "node"}, "start": node id, "nodes": [...]}. Triggers: event, contact_created, list_subscribed, ' +
    'list_confirmed, segment_entered, segment_exited, date_attribute, engagement, api, schedule. Nodes: send_email, wait, wait_for, ' +
    'branch, random_split, update_contact, webhook, goal, exit. See the README section "Automations" for every field.',
  examples: [
    {
      trigger: {
        type: 'event',
        event: 'Cart Updated',
        where: [{ property: 'total', operator: 'greater_than', value: 0 }],
      },
      sender: { from_email: 'news@shop.example', from_name: 'Shop' },
      entry: { mode: 'once' },
      instance_key: 'cart_id',
      goal: { event: 'Order Completed', node: 'purchased' },
      start: 'wait_4h',
      nodes: [
        { id: 'wait_4h', type: 'wait', for: { hours: 4 }, next: 'reminder' },
        { id: 'reminder', type: 'send_email', template: 'Cart reminder', next: 'done' },
        { id: 'purchased', type: 'goal' },
        { id: 'done', type: 'exit' },
      ],
    },
  ],
});

const AutomationStatusSchema = Type.Union(
  [Type.Literal('draft'), Type.Literal('active'), Type.Literal('paused'), Type.Literal('archived')],
  {
    description:
      'draft: never published; active: published and enrolling; paused: published, enrolling nobody and holding runs; archived: stopped for good.',
  },
);

const fields = {
  name: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Unique per workspace (case-insensitive).',
  }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
};

export const AutomationCreateBody = Type.Object(
  { ...fields, definition: AutomationDefinitionSchema },
  { additionalProperties: false },
);

export const AutomationPatchBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    description: fields.description,
    definition: Type.Optional(AutomationDefinitionSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const AutomationSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    status: AutomationStatusSchema,
    draft_definition: Type.Unsafe<unknown>({
      type: 'object',
      additionalProperties: true,
      description: 'The working copy; it takes effect when published.',
    }),
    current_version: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The version new contacts enter; null until the first publish.',
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Automation' },
);

export const AutomationVersionSchema = Type.Object(
  {
    id: Uuid,
    automation_id: Uuid,
    version: Type.Integer(),
    definition: Type.Unsafe<unknown>({
      type: 'object',
      additionalProperties: true,
      description: 'The published definition with its defaults written out. Never changes.',
    }),
    resolved: Type.Unsafe<unknown>({
      type: 'object',
      additionalProperties: true,
      description:
        'What publishing pinned: {"emails": {"<node id>": {"template_id", "template_version_id", "template_name"}}}.',
    }),
    published_at: Timestamp,
  },
  { title: 'AutomationVersion' },
);

export const AutomationListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(AutomationStatusSchema) },
  { additionalProperties: false },
);

export const VersionListQuery = Type.Object(PageQuery, { additionalProperties: false });

export const VersionParams = Type.Object(
  { id: Uuid, version: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) },
  { additionalProperties: false },
);

export const ValidateBody = Type.Object(
  { definition: AutomationDefinitionSchema },
  { additionalProperties: false },
);

export const ValidationSchema = Type.Object(
  {
    valid: Type.Boolean(),
    errors: Type.Array(
      Type.Object(
        {
          path: Type.Optional(Type.String({ description: 'JSON pointer into the request body.' })),
          node: Type.Optional(Type.String({ description: 'The id of the node the error is about.' })),
          message: Type.String(),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { title: 'AutomationValidation' },
);
