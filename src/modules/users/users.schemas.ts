import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';
import { ROLES } from './roles.js';

export const RoleSchema = Type.Union(
  [
    Type.Literal(ROLES[0]),
    Type.Literal(ROLES[1]),
    Type.Literal(ROLES[2]),
    Type.Literal(ROLES[3]),
    Type.Literal(ROLES[4]),
  ],
  { description: 'owner, admin, editor, analyst or viewer (see the README for what each may do).' },
);

const Email = Type.String({ minLength: 3, maxLength: 320, description: 'Email address.' });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const TotpCode = Type.String({
  pattern: '^\\s*\\d{6}\\s*$',
  description: 'Six-digit code from the authenticator app.',
});

export const SessionUserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  totp_enabled: Type.Boolean(),
});

const WorkspaceRef = Type.Object({ id: Type.String(), name: Type.String() });

export const LoginBody = Type.Object(
  {
    email: Email,
    password: Password,
    totp: Type.Optional(TotpCode),
    workspace_id: Type.Optional(
      Type.String({ format: 'uuid', description: 'Workspace to act in (default: your first).' }),
    ),
  },
  { additionalProperties: false },
);

export const StartedSessionSchema = Type.Object({
  user: SessionUserSchema,
  workspace: WorkspaceRef,
  role: RoleSchema,
  csrf_token: Type.String({ description: 'Send as header X-CSRF-Token with every write request.' }),
  expires_at: Timestamp,
});

export const SessionSchema = Type.Object({
  user: SessionUserSchema,
  workspace: WorkspaceRef,
  role: RoleSchema,
  scopes: Type.Array(Type.String()),
  csrf_token: Type.String(),
  workspaces: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: RoleSchema })),
});

export const SwitchWorkspaceBody = Type.Object(
  { workspace_id: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
);

export const ChangePasswordBody = Type.Object(
  { current_password: Password, new_password: Password },
  { additionalProperties: false },
);

export const TotpEnrollment = Type.Object({
  secret: Type.String({ description: 'Base32 secret, for typing into an authenticator app.' }),
  otpauth_uri: Type.String({ description: 'otpauth:// URI, for a QR code.' }),
});

export const TotpCodeBody = Type.Object({ code: TotpCode }, { additionalProperties: false });

export const DisableTotpBody = Type.Object(
  { code: Type.Optional(TotpCode), password: Type.Optional(Password) },
  { additionalProperties: false },
);

export const MemberSchema = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  totp_enabled: Type.Boolean(),
  created_at: Timestamp,
});

export const ChangeRoleBody = Type.Object({ role: RoleSchema }, { additionalProperties: false });

export const InvitationSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('accepted'),
    Type.Literal('revoked'),
    Type.Literal('expired'),
  ]),
  invited_by: Type.String({ description: '"user:<id>" or "api_key:<id>".' }),
  created_at: Timestamp,
  expires_at: Timestamp,
  accepted_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
});

export const CreateInvitationBody = Type.Object(
  { email: Email, role: RoleSchema },
  { additionalProperties: false },
);

export const InvitationEmailSchema = Type.Object(
  {
    sent: Type.Boolean({
      description:
        "The transport accepted the email (the workspace's default transport, `file` when none is set).",
    }),
    error: Type.Union([Type.String(), Type.Null()], {
      description: 'Why it was not sent (the transport answer); null when sent.',
    }),
  },
  {
    title: 'InvitationEmail',
    description:
      'The invitation email to the invitee. When it was not sent, the invitation still stands: pass the accept_url on yourself, or resend.',
  },
);

export const CreatedInvitationSchema = Type.Object({
  invitation: InvitationSchema,
  token: Type.String({ description: 'The invitation token; shown once, here only.' }),
  accept_url: Type.String({
    description:
      'Link for the invitee (HERALD_PUBLIC_URL based); carries the token. Emailed to the invitee too.',
  }),
  email: InvitationEmailSchema,
});

export const ResentInvitationSchema = Type.Object({
  invitation: InvitationSchema,
  email: InvitationEmailSchema,
});

export const AcceptInvitationBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 500 }),
    password: Type.Optional(Password),
  },
  { additionalProperties: false },
);

export const AcceptedInvitationSchema = Type.Object({
  user: SessionUserSchema,
  workspace: WorkspaceRef,
  role: RoleSchema,
  created: Type.Boolean({ description: 'A new account was created (else an existing one joined).' }),
});
