import type { Logger } from 'pino';
import { escapeHtml } from '../../http/public-page.js';
import type { Clock } from '../../lib/clock.js';
import { uuidv7 } from '../../lib/ids.js';
import type { MailPort } from '../messages/index.js';
import type { Role } from './roles.js';

/** What the admin learns about the invitation email: sent, or why not (the invitation stands either way). */
export interface InvitationEmailOutcome {
  sent: boolean;
  /** The transport's answer when it was not sent; may name the invitee's address (the admin typed it). */
  error: string | null;
}

export interface InvitationEmail {
  workspaceId: string;
  invitationId: string;
  to: string;
  workspaceName: string;
  role: Role;
  acceptUrl: string;
  expiresAt: Date;
  /** The inviting person's address; undefined when an API key invited. */
  invitedBy: string | undefined;
}

const ROLE_PHRASES: Record<Role, string> = {
  owner: 'an owner (everything, including members and the owner role)',
  admin: 'an admin (members, API keys, settings, content and sending)',
  editor: 'an editor (contacts, lists, templates, segments, campaigns and automations)',
  analyst: 'an analyst (reports, without contacts or exports)',
  viewer: 'a viewer (reads everything, changes nothing)',
};

/** "14 December 2026, 13:05 UTC": unambiguous in any reader's locale. */
export function formatExpiry(at: Date): string {
  const months = [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getUTCDate()} ${months[at.getUTCMonth()]} ${at.getUTCFullYear()}, ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())} UTC`;
}

/** The invitation email's subject, text and HTML. Workspace names and addresses are escaped in the HTML. */
export function invitationMessage(input: Omit<InvitationEmail, 'workspaceId' | 'invitationId' | 'to'>): {
  subject: string;
  text: string;
  html: string;
} {
  const who = input.invitedBy ? `${input.invitedBy} invites you` : 'You are invited';
  const role = ROLE_PHRASES[input.role];
  const expires = formatExpiry(input.expiresAt);
  const subject = `Join ${input.workspaceName} on Herald`;
  const text = [
    `${who} to join the workspace "${input.workspaceName}" on Herald as ${role}.`,
    '',
    'Accept the invitation and choose your password here:',
    input.acceptUrl,
    '',
    `The link works once and expires on ${expires}.`,
    'If you did not expect this invitation, ignore this email: nothing happens without the link.',
    '',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5;color:#1b1b1f">
<p>${escapeHtml(who)} to join the workspace <strong>${escapeHtml(input.workspaceName)}</strong> on Herald as ${escapeHtml(role)}.</p>
<p><a href="${escapeHtml(input.acceptUrl)}" style="display:inline-block;padding:10px 16px;background:#1f5fbf;color:#ffffff;border-radius:6px;text-decoration:none;font-weight:600">Accept the invitation</a></p>
<p>Or open this link: <a href="${escapeHtml(input.acceptUrl)}">${escapeHtml(input.acceptUrl)}</a></p>
<p style="color:#55575d;font-size:14px">The link works once and expires on ${escapeHtml(expires)}. If you did not expect this invitation, ignore this email: nothing happens without the link.</p>
</body></html>`;
  return { subject, text, html };
}

/**
 * Sends invitation emails the way Herald sends its other transactional mail
 * (the mail port: the workspace's default transport, the `file` transport
 * when none is set, DKIM when a sending domain matches the sender). Never
 * throws: a failure is reported to the caller, since the invitation itself
 * is already stored and its link can be passed on by hand.
 */
export function createInvitationMailer(deps: {
  mail: Pick<MailPort, 'send' | 'classify'>;
  fromEmail: string;
  clock: Clock;
  logger: Logger;
}) {
  return {
    async send(email: InvitationEmail): Promise<InvitationEmailOutcome> {
      const message = invitationMessage(email);
      try {
        await deps.mail.send({
          workspaceId: email.workspaceId,
          id: uuidv7(deps.clock.now().getTime()),
          from: { email: deps.fromEmail, name: 'Herald' },
          to: email.to,
          subject: message.subject,
          html: message.html,
          text: message.text,
        });
        return { sent: true, error: null };
      } catch (error) {
        const { kind, detail } = deps.mail.classify(error);
        // Ids only: the detail may quote the address.
        deps.logger.warn(
          { workspace_id: email.workspaceId, invitation_id: email.invitationId, kind },
          'invitation email not sent',
        );
        return { sent: false, error: detail || 'the transport refused the message' };
      }
    },
  };
}

export type InvitationMailer = ReturnType<typeof createInvitationMailer>;
