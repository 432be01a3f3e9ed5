import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';
import { MembershipStatusSchema } from '../contacts/index.js';
import { MAX_MEMBER_ENTRIES } from './lists.service.js';

export const OptInSchema = Type.Union([Type.Literal('single'), Type.Literal('double')], {
  description:
    'single: members added without a status are confirmed at once. double: they start unconfirmed until they confirm.',
});

export const VisibilitySchema = Type.Union([Type.Literal('public'), Type.Literal('private')], {
  description: 'public lists may be offered on subscription forms; private lists never are.',
});

const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'Unique per workspace, regardless of case.',
});
const Description = Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]);
const ConfirmationTemplateId = Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
  description:
    'Double opt-in: the template of the confirmation email (its latest version; `list` and `confirm_url` are available to Liquid). null uses a built-in text.',
});
const ConfirmationFromEmail = Type.Union([Type.String({ format: 'email', maxLength: 320 }), Type.Null()], {
  description: 'Double opt-in: the sender of confirmation emails. Without one, none are sent.',
});

export const ListSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    opt_in: OptInSchema,
    visibility: VisibilitySchema,
    confirmation_template_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    confirmation_from_email: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'List' },
);

export const ListWithCountsSchema = Type.Object(
  {
    ...ListSchema.properties,
    member_counts: Type.Object(
      {
        unconfirmed: Type.Integer(),
        confirmed: Type.Integer(),
        unsubscribed: Type.Integer(),
      },
      { description: 'Members by status.' },
    ),
  },
  { title: 'ListWithCounts' },
);

export const ListCreateBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    opt_in: Type.Optional(OptInSchema),
    visibility: Type.Optional(VisibilitySchema),
    confirmation_template_id: Type.Optional(ConfirmationTemplateId),
    confirmation_from_email: Type.Optional(ConfirmationFromEmail),
  },
  { additionalProperties: false, description: 'opt_in defaults to single, visibility to private.' },
);

export const ListPatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    opt_in: Type.Optional(OptInSchema),
    visibility: Type.Optional(VisibilitySchema),
    confirmation_template_id: Type.Optional(ConfirmationTemplateId),
    confirmation_from_email: Type.Optional(ConfirmationFromEmail),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ListListQuery = Type.Object(
  { ...PageQuery, visibility: Type.Optional(VisibilitySchema) },
  { additionalProperties: false },
);

export const MemberSchema = Type.Object(
  {
    contact_id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    status: MembershipStatusSchema,
    created_at: Timestamp,
    updated_at: Timestamp,
    confirmed_at: NullableTimestamp,
    unsubscribed_at: NullableTimestamp,
  },
  { title: 'ListMember' },
);

export const MemberListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(MembershipStatusSchema) },
  { additionalProperties: false },
);

const Targets = {
  contact_ids: Type.Optional(
    Type.Array(Type.String({ format: 'uuid' }), {
      maxItems: MAX_MEMBER_ENTRIES,
      description: 'Contacts by id.',
    }),
  ),
  emails: Type.Optional(
    Type.Array(Type.String({ maxLength: 320 }), {
      maxItems: MAX_MEMBER_ENTRIES,
      description: 'Contacts by email address.',
    }),
  ),
};

const TargetsNote = `Name contacts by contact_ids, emails or both: at least 1 and at most ${MAX_MEMBER_ENTRIES} entries together.`;

export const MemberAddBody = Type.Object(
  {
    ...Targets,
    status: Type.Optional(
      Type.Union([Type.Literal('confirmed'), Type.Literal('unconfirmed')], {
        description:
          "Status of new members; default is the list's opt-in (single: confirmed, double: unconfirmed). " +
          'Giving it asserts the contacts consented, and re-subscribes members who had unsubscribed.',
      }),
    ),
  },
  { additionalProperties: false, description: TargetsNote },
);

export const MemberTargetsBody = Type.Object(Targets, {
  additionalProperties: false,
  description: TargetsNote,
});

const InvalidEmails = Type.Array(Type.Object({ email: Type.String(), reason: Type.String() }), {
  description: 'Emails that are not valid addresses, with the reason; nothing was done with them.',
});
const NotFound = Type.Array(Type.String(), {
  description: 'contact_ids that name no contact in this workspace; nothing was done with them.',
});
const NotMembers = Type.Integer({ description: 'Entries (ids or emails) that name no member of the list.' });

export const MemberAddResult = Type.Object(
  {
    added: Type.Integer({ description: 'New members.' }),
    already_members: Type.Integer({ description: 'Members before; their status did not change.' }),
    resubscribed: Type.Integer({ description: 'Unsubscribed members subscribed again (status was given).' }),
    kept_unsubscribed: Type.Integer({
      description: 'Part of already_members: unsubscribed members left so, because no status was given.',
    }),
    not_found: NotFound,
    invalid: InvalidEmails,
  },
  { title: 'MemberAddResult' },
);

export const MemberUnsubscribeResult = Type.Object(
  {
    unsubscribed: Type.Integer(),
    already_unsubscribed: Type.Integer(),
    not_members: NotMembers,
    not_found: NotFound,
    invalid: InvalidEmails,
  },
  { title: 'MemberUnsubscribeResult' },
);

export const MemberConfirmResult = Type.Object(
  {
    confirmed: Type.Integer(),
    already_confirmed: Type.Integer(),
    skipped_unsubscribed: Type.Integer({
      description: 'Unsubscribed members are never confirmed; re-add them with a status instead.',
    }),
    not_members: NotMembers,
    not_found: NotFound,
    invalid: InvalidEmails,
  },
  { title: 'MemberConfirmResult' },
);

export const MemberRemoveResult = Type.Object(
  {
    removed: Type.Integer(),
    not_members: NotMembers,
    not_found: NotFound,
    invalid: InvalidEmails,
  },
  { title: 'MemberRemoveResult' },
);
