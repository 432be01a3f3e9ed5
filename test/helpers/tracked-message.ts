import { uuidv7 } from '../../src/lib/ids.js';
import type { TestApp } from './test-app.js';

/**
 * One tracked message of a campaign for a contact, as the sender builds it:
 * the template version's links rewritten and the pixel added. Returns the
 * message id, the HTML, and the paths of its pixels (`/o/...`) and tracked
 * links (`/c/...`, the hidden honeypot link first).
 */
export async function trackedMessage(
  t: TestApp,
  input: {
    templateVersionId: string;
    campaignId: string;
    contactId: string;
    /** The HTML body the version was saved with (no Liquid left in it). */
    body: string;
    trackingConsent?: boolean | undefined;
  },
) {
  const tracker = await t.container.tracking.prepare({
    workspaceId: t.workspaceId,
    templateVersionId: input.templateVersionId,
    trackOpens: true,
    trackClicks: true,
  });
  const messageId = uuidv7();
  const out = tracker.apply(
    { html: `<html><body>${input.body}</body></html>`, text: '' },
    {
      workspaceId: t.workspaceId,
      messageId,
      contactId: input.contactId,
      campaignId: input.campaignId,
      trackingConsent: input.trackingConsent,
    },
  );
  const paths = (kind: 'o' | 'c') =>
    [...out.html.matchAll(new RegExp(`${t.config.publicUrl}(/${kind}/[A-Za-z0-9_-]+)`, 'g'))].map(
      (m) => m[1] as string,
    );
  return { messageId, html: out.html, opens: paths('o'), clicks: paths('c') };
}
