/**
 * What transactional mail needs from message building, DKIM and transports;
 * implemented in src/main/sending-ports.ts.
 */
export interface OutgoingMail {
  workspaceId: string;
  /** UUID: the Message-ID's local part and the VERP token's message id. */
  id: string;
  from: { email: string; name?: string | undefined };
  replyTo?: string | null | undefined;
  to: string;
  subject: string;
  html?: string | undefined;
  text: string;
  transportId?: string | null | undefined;
  /** Marketing mail (automation emails): one-click unsubscribe, List-Unsubscribe-Post and Feedback-ID headers. */
  marketing?: { automationId: string; unsubscribeUrl: string; unsubscribeMailto: string } | undefined;
}

export type FailureKind = 'permanent' | 'temporary' | 'connection';

export interface MailPort {
  /** Throws TRANSPORT_NOT_FOUND when the workspace has no such transport. */
  checkTransport(workspaceId: string, transportId: string): Promise<void>;
  /** The signed unsubscribe link and mailto address of one marketing message to one contact. */
  marketingLinks(input: { workspaceId: string; messageId: string; contactId: string; fromEmail: string }): {
    url: string;
    mailto: string;
  };
  send(mail: OutgoingMail): Promise<{ providerMessageId: string; messageId: string }>;
  /** permanent: give up on the message; temporary/connection: retry later. `detail` may quote addresses: never log it. */
  classify(error: unknown): { kind: FailureKind; detail: string };
}

/** Contacts that must never be mailed, transactional or not. */
export const SUPPRESSED_STATUSES: readonly string[] = ['bounced', 'complained', 'blocked'];

/** Contacts that must never get marketing mail. */
export const MARKETING_SUPPRESSED_STATUSES: readonly string[] = [...SUPPRESSED_STATUSES, 'unsubscribed'];
