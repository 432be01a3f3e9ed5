import { isDomainError } from '../lib/errors.js';
import type { SecretKeyring } from '../lib/secret-keys.js';
import { createToken } from '../lib/signed-tokens.js';
import { unsubscribeLinks } from '../mail/message-builder.js';
import type { CampaignService } from '../modules/campaigns/index.js';
import type { ContactService } from '../modules/contacts/index.js';
import type { ListService } from '../modules/lists/index.js';
import type { ViewRenderer } from '../modules/public-pages/index.js';
import type { PreparedTemplate, TemplateService } from '../modules/templates/index.js';
import type { WorkspaceService } from '../modules/workspaces/index.js';

/**
 * View in browser: renders a campaign's pinned template version for one
 * contact with the same context the sending ports give the email (contact,
 * first included list, workspace, campaign, and the same signed unsubscribe,
 * preferences and view links), and the workspace's postal address footer
 * (CAN-SPAM) added exactly as the sending ports add it to the email, so the
 * page shows what the inbox showed. Prepared templates are kept for a few
 * campaigns, since one campaign's views arrive together.
 */
export function createViewRenderer(deps: {
  keyring: SecretKeyring;
  publicUrl: string;
  campaigns: Pick<CampaignService, 'get' | 'variantOf'>;
  contacts: Pick<ContactService, 'get'>;
  lists: Pick<ListService, 'get'>;
  templates: Pick<TemplateService, 'compileForSend'>;
  workspaces: Pick<WorkspaceService, 'get'>;
  cacheSize?: number;
}): ViewRenderer {
  const { keyring } = deps;
  const base = deps.publicUrl.replace(/\/+$/, '');
  const cacheSize = deps.cacheSize ?? 20;
  const prepared = new Map<string, Promise<PreparedTemplate>>();

  function templateFor(
    workspaceId: string,
    versionId: string,
    subject: string | null,
    preheader: string | null,
    postalAddress: string | null,
  ) {
    // The address is part of the key: a changed workspace address shows at the next view.
    const key = JSON.stringify([workspaceId, versionId, subject, preheader, postalAddress]);
    let template = prepared.get(key);
    if (!template) {
      template = deps.templates.compileForSend(workspaceId, versionId, {
        subject,
        preheader,
        postalAddress,
      });
      template.catch(() => prepared.delete(key));
      if (prepared.size >= cacheSize) prepared.delete(prepared.keys().next().value as string);
      prepared.set(key, template);
    }
    return template;
  }

  return {
    async render(workspaceId, campaignId, contactId) {
      try {
        const [campaign, contact, workspace, position] = await Promise.all([
          deps.campaigns.get(workspaceId, campaignId),
          deps.contacts.get(workspaceId, contactId),
          deps.workspaces.get(workspaceId),
          deps.campaigns.variantOf(workspaceId, campaignId, contactId),
        ]);
        // The A/B variant this contact was sent, with the campaign's settings where it sets none.
        const variant = position === null ? undefined : campaign.ab_test?.variants[position];
        const versionId = variant?.template_version_id ?? campaign.template_version_id;
        if (!versionId) return undefined;
        const firstListId = campaign.lists[0];
        const list = firstListId
          ? await deps.lists.get(workspaceId, firstListId).catch(ignore404)
          : undefined;
        const firstList = list ? { id: list.id, name: list.name } : undefined;
        const template = await templateFor(
          workspaceId,
          versionId,
          variant?.subject ?? campaign.subject,
          variant?.preheader ?? campaign.preheader,
          workspace.postal_address,
        );
        const ids = { workspaceId, contactId, campaignId };
        // The message id only shapes the mailto address, which a web page does not show.
        const links = unsubscribeLinks(keyring, {
          publicUrl: base,
          domain: 'invalid',
          workspaceId,
          messageId: '00000000-0000-0000-0000-000000000000',
          contactId,
          campaignId,
          listId: firstList?.id,
        });
        const rendered = await template.render({
          contact: {
            id: contact.id,
            email: contact.email,
            external_id: contact.external_id,
            attributes: contact.attributes,
            tags: contact.tags,
            timezone: contact.timezone,
            locale: contact.locale,
            status: contact.status,
          },
          lists: firstList ? [firstList] : [],
          workspace: { name: workspace.name, postal_address: workspace.postal_address },
          campaign: { id: campaign.id, name: campaign.name },
          unsubscribe_url: links.url,
          preferences_url: `${base}/p/${createToken(keyring, 'preferences', ids)}`,
          view_in_browser_url: `${base}/m/${createToken(keyring, 'view', ids)}`,
        });
        return { subject: rendered.subject, html: rendered.html };
      } catch (error) {
        if (isDomainError(error) && error.status === 404) return undefined;
        throw error;
      }
    },
  };
}

function ignore404(error: unknown): undefined {
  if (isDomainError(error) && error.status === 404) return undefined;
  throw error;
}
