import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import type { SecretKeyring } from '../lib/secret-keys.js';
import { createToken } from '../lib/signed-tokens.js';
import { SigningUnavailableError } from '../mail/dkim-pool.js';
import { buildMessage, feedbackId, returnPathAddress, unsubscribeLinks } from '../mail/message-builder.js';
import { isTransportError } from '../mail/transports/transport.js';
import type { AttributeService } from '../modules/attributes/index.js';
import type { IncludedAudience, PreparedCampaign, SendingPorts } from '../modules/campaigns/index.js';
import type { ListService } from '../modules/lists/index.js';
import type { MailPort, OutgoingMail } from '../modules/messages/index.js';
import type { SegmentService } from '../modules/segments/index.js';
import type { SendingDomainService } from '../modules/sending-domains/index.js';
import { RenderTimeLimitError, type TemplateService } from '../modules/templates/index.js';
import type { ThrottlingService } from '../modules/throttling/index.js';
import type { TrackingService } from '../modules/tracking/index.js';
import type { TransportService } from '../modules/transports/index.js';
import type { WorkspaceService } from '../modules/workspaces/index.js';

/**
 * Connects the campaign sender to templates, message building, DKIM and
 * transports. Everything expensive (compiling, parsing the DKIM key, opening
 * the transport) happens once per campaign in `prepare`; `compose` does only
 * per-recipient work.
 */
export function createSendingPorts(deps: {
  keyring: SecretKeyring;
  publicUrl: string;
  clock: Clock;
  logger: Logger;
  templates: Pick<TemplateService, 'compileForSend'>;
  lists: Pick<ListService, 'get'>;
  segments: Pick<SegmentService, 'get'>;
  workspaces: Pick<WorkspaceService, 'get'>;
  sendingDomains: Pick<SendingDomainService, 'signerFor'>;
  transports: Pick<TransportService, 'transportFor'>;
  /** Open pixel and link rewriting; without it messages go out untracked. */
  tracking?: Pick<TrackingService, 'prepare'> | undefined;
  /** Decrypts sensitive attribute values for rendering; without it they render as stored. */
  attributes?: Pick<AttributeService, 'revealerFor'> | undefined;
}): SendingPorts {
  const { keyring, publicUrl, clock } = deps;
  const base = publicUrl.replace(/\/+$/, '');

  /**
   * The mailing list List-Id names (RFC 2919), so mailbox providers can group
   * the campaign's mail and offer its unsubscribe: one list (with several, the
   * first the campaign includes), or the segment when the audience has no list.
   */
  async function mailingList(
    workspaceId: string,
    audience: IncludedAudience,
  ): Promise<{ kind: 'list' | 'segment'; id: string; name: string } | undefined> {
    const listId = audience.listIds[0];
    if (listId) {
      const list = await deps.lists.get(workspaceId, listId);
      return { kind: 'list', id: list.id, name: list.name };
    }
    if (!audience.segmentId) return undefined;
    const segment = await deps.segments.get(workspaceId, audience.segmentId);
    return { kind: 'segment', id: segment.id, name: segment.name };
  }

  return {
    async prepare(campaign, audience): Promise<PreparedCampaign> {
      if (!campaign.template_version_id || !campaign.from_email) {
        throw new Error(`campaign ${campaign.id} started without a pinned template version or sender`);
      }
      const workspaceId = campaign.workspace_id;
      const domain = campaign.from_email.split('@')[1] as string;
      // The postal address footer goes into the compiled version, so the workspace is read first.
      const workspace = await deps.workspaces.get(workspaceId);
      const [template, signer, live, list, tracker] = await Promise.all([
        deps.templates.compileForSend(workspaceId, campaign.template_version_id, {
          subject: campaign.subject,
          preheader: campaign.preheader,
          postalAddress: workspace.postal_address,
        }),
        deps.sendingDomains.signerFor(workspaceId, domain),
        deps.transports.transportFor(workspaceId, campaign.transport_id),
        mailingList(workspaceId, audience),
        // Links registered once per version here; per recipient only the rewrite below.
        deps.tracking && (campaign.track_opens || campaign.track_clicks)
          ? deps.tracking.prepare({
              workspaceId,
              templateVersionId: campaign.template_version_id,
              trackOpens: campaign.track_opens,
              trackClicks: campaign.track_clicks,
            })
          : Promise.resolve(undefined),
      ]);
      if (!signer) {
        deps.logger.warn(
          { campaign_id: campaign.id },
          'no sending domain with a DKIM key matches the sender: messages go out unsigned',
        );
      }
      const firstList = list?.kind === 'list' ? { id: list.id, name: list.name } : undefined;
      const from = { name: campaign.from_name ?? undefined, email: campaign.from_email };
      // Names looked up once per campaign; each recipient's values are decrypted as it is composed.
      const reveal = deps.attributes ? await deps.attributes.revealerFor(workspaceId) : undefined;
      const replyTo = campaign.reply_to ? { email: campaign.reply_to } : undefined;

      return {
        messageIdDomain: domain,
        async compose(recipient) {
          const id = recipient.message_id.split('@')[0] as string;
          const links = unsubscribeLinks(keyring, {
            publicUrl: base,
            domain,
            workspaceId,
            messageId: id,
            contactId: recipient.contact_id,
            campaignId: campaign.id,
            listId: firstList?.id,
          });
          const ids = { workspaceId, contactId: recipient.contact_id, campaignId: campaign.id };
          const rendered = await template.render({
            contact: {
              id: recipient.contact_id,
              email: recipient.email,
              external_id: recipient.external_id,
              attributes: reveal ? await reveal(recipient.attributes) : recipient.attributes,
              tags: recipient.tags,
              timezone: recipient.timezone,
              locale: recipient.locale,
              status: recipient.status,
            },
            lists: firstList ? [firstList] : [],
            workspace: { name: workspace.name, postal_address: workspace.postal_address },
            campaign: { id: campaign.id, name: campaign.name },
            unsubscribe_url: links.url,
            preferences_url: `${base}/p/${createToken(keyring, 'preferences', ids)}`,
            view_in_browser_url: `${base}/m/${createToken(keyring, 'view', ids)}`,
          });
          const body = tracker
            ? tracker.apply(rendered, {
                workspaceId,
                messageId: id,
                contactId: recipient.contact_id,
                campaignId: campaign.id,
                trackingConsent: recipient.tracking_consent,
              })
            : rendered;
          const built = buildMessage({
            id,
            domain,
            date: clock.now(),
            from,
            replyTo,
            to: { email: recipient.email },
            subject: rendered.subject,
            html: body.html,
            text: body.text,
            // The signing domain's dedicated bounce domain when it has one, else the From domain.
            returnPath: returnPathAddress(keyring, id, signer?.returnPathDomain ?? domain),
            marketing: {
              unsubscribeUrl: links.url,
              unsubscribeMailto: links.mailto,
              list: list ? { id: list.id, name: list.name, workspaceId } : undefined,
              feedbackId: feedbackId({
                campaignId: campaign.id,
                listId: list?.id,
                workspaceId,
                senderId: signer?.domain ?? domain,
              }),
            },
          });
          return { raw: signer ? await signer.sign(built.raw) : built.raw, envelope: built.envelope };
        },
        async send(message) {
          const release = await live.limiter.acquire();
          try {
            return await live.transport.send(message);
          } finally {
            release();
          }
        },
      };
    },

    classify(error) {
      if (isTransportError(error)) return error.kind;
      // A signing thread that died says nothing about the message: try it again later.
      if (error instanceof SigningUnavailableError) return 'temporary';
      // Out of render time once (a pause, a busy machine) may pass next time; retried up to the attempt limit.
      if (error instanceof RenderTimeLimitError) return 'temporary';
      // A message that cannot be rendered or built will not improve by retrying.
      return 'permanent';
    },
  };
}

/**
 * Connects transactional mail (transactional messages, double opt-in
 * confirmations) and automation emails to message building, DKIM and
 * transports: a VERP return path (at the sending domain's Return-Path domain
 * when it has one, else at the From domain), the sending domain's signature
 * when it has one; list headers only on marketing mail (automation emails of
 * kind marketing).
 */
export function createMailPort(deps: {
  keyring: SecretKeyring;
  publicUrl: string;
  clock: Clock;
  logger: Logger;
  sendingDomains: Pick<SendingDomainService, 'signerFor'>;
  transports: Pick<TransportService, 'transportFor'>;
  /**
   * Counts mail that is not marketing (transactional messages, confirmations,
   * automation emails of kind transactional) against throttles and warm-up
   * caps: it never waits. Automation marketing email reserved its room at its node.
   */
  throttle?: Pick<ThrottlingService, 'count'> | undefined;
}): MailPort {
  const { keyring, clock } = deps;
  return {
    async checkTransport(workspaceId, transportId) {
      await deps.transports.transportFor(workspaceId, transportId);
    },

    marketingLinks(input) {
      const domain = input.fromEmail.split('@')[1] as string;
      return unsubscribeLinks(keyring, {
        publicUrl: deps.publicUrl,
        domain,
        workspaceId: input.workspaceId,
        messageId: input.messageId,
        contactId: input.contactId,
      });
    },

    async send(mail: OutgoingMail) {
      const domain = mail.from.email.split('@')[1] as string;
      const [signer, live] = await Promise.all([
        deps.sendingDomains.signerFor(mail.workspaceId, domain),
        deps.transports.transportFor(mail.workspaceId, mail.transportId ?? null),
      ]);
      if (!signer) {
        deps.logger.warn(
          { workspace_id: mail.workspaceId, message: mail.id },
          'no sending domain with a DKIM key matches the sender: message goes out unsigned',
        );
      }
      const built = buildMessage({
        id: mail.id,
        domain,
        date: clock.now(),
        from: mail.from,
        replyTo: mail.replyTo ? { email: mail.replyTo } : undefined,
        to: { email: mail.to },
        subject: mail.subject,
        html: mail.html,
        text: mail.text,
        returnPath: returnPathAddress(keyring, mail.id, signer?.returnPathDomain ?? domain),
        // Automation emails: the unsubscribe headers of campaigns, Feedback-ID naming the automation.
        marketing: mail.marketing
          ? {
              unsubscribeUrl: mail.marketing.unsubscribeUrl,
              unsubscribeMailto: mail.marketing.unsubscribeMailto,
              feedbackId: feedbackId({
                campaignId: mail.marketing.automationId,
                workspaceId: mail.workspaceId,
                senderId: signer?.domain ?? domain,
              }),
            }
          : undefined,
      });
      const raw = signer ? await signer.sign(built.raw) : built.raw;
      if (!mail.marketing)
        await deps.throttle?.count(
          mail.workspaceId,
          { fromEmail: mail.from.email, transportId: mail.transportId ?? null },
          mail.to,
          clock.now(),
        );
      const release = await live.limiter.acquire();
      try {
        const result = await live.transport.send({
          raw,
          envelope: built.envelope,
          messageId: built.messageId,
        });
        return { providerMessageId: result.providerMessageId, messageId: built.messageId };
      } finally {
        release();
      }
    },

    classify(error) {
      if (isTransportError(error))
        return { kind: error.kind, detail: error.providerMessage || error.message };
      if (error instanceof SigningUnavailableError || error instanceof RenderTimeLimitError)
        return { kind: 'temporary', detail: error.message };
      return { kind: 'permanent', detail: error instanceof Error ? error.message : String(error) };
    },
  };
}
