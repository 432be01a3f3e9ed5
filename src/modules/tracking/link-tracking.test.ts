import { describe, expect, it } from 'vitest';
import { generateSecretKey, parseSecretKeys } from '../../lib/secret-keys.js';
import { verifyToken } from '../../lib/signed-tokens.js';
import { destinationUrl, prepareTracking, scanTemplate } from './link-tracking.js';

const keyring = parseSecretKeys(generateSecretKey());
const publicUrl = 'https://mail.example.com';
const now = new Date('2030-01-01T00:00:00Z');
const ids = {
  workspaceId: '01890a5d-ac96-774b-bcce-b302099a8050',
  messageId: '01890a5d-ac96-774b-bcce-b302099a8057',
  contactId: '01890a5d-ac96-774b-bcce-b302099a8058',
  campaignId: '01890a5d-ac96-774b-bcce-b302099a8059',
};

const compiledHtml = `<!doctype html><html><head><link href="https://fonts.example.com/css" rel="stylesheet"></head><body style="margin:0">
<p>Hello {{ contact.attributes.name }}</p>
<a href="https://shop.example.com/sale?a=1&amp;b=2" style="color:red">Sale</a>
<a class="btn" href='https://shop.example.com/new'>New</a>
<a href="https://shop.example.com/sale?a=1&amp;b=2">Sale again</a>
<a href="https://shop.example.com/u/{{ contact.id }}">Your page</a>
<a href="{{ unsubscribe_url }}">Unsubscribe</a>
<a href="{{ preferences_url }}">Preferences</a>
<a href="mailto:help@example.com">Mail us</a>
<a href="tel:+491234">Call us</a>
<a href="#top">Top</a>
<a href="/relative">Relative</a>
<a href="https://mail.example.com/m/abc">Own page</a>
<a data-herald-notrack href="https://private.example.com/">Private</a>
<a href="https://private.example.com/2" data-herald-notrack="">Private 2</a>
{% if contact.tags contains "vip" %}<a href="https://shop.example.com/vip">VIP</a>{% endif %}
</body></html>`;

const compiledText = `Hello {{ contact.attributes.name }}
Sale [https://shop.example.com/sale?a=1&b=2]
See https://shop.example.com/text-only.
Your page: https://shop.example.com/u/{{ contact.id }}
(more at https://shop.example.com/more)
Unsubscribe: {{ unsubscribe_url }}`;

function tracker(opts: { trackOpens?: boolean; trackClicks?: boolean; honeypot?: boolean } = {}) {
  const scan = scanTemplate(compiledHtml, compiledText, { publicUrl });
  const linkIds = new Map(
    scan.urls.map((url, i) => [url, `01890a5d-ac96-774b-bcce-b302099a81${String(i).padStart(2, '0')}`]),
  );
  return {
    scan,
    linkIds,
    tracker: prepareTracking({
      keyring,
      publicUrl,
      scan,
      linkIds,
      trackOpens: opts.trackOpens ?? true,
      trackClicks: opts.trackClicks ?? true,
      honeypot: opts.honeypot ?? false,
    }),
  };
}

/** What Liquid would produce for one recipient. */
function render(source: string, contactId = 'c-1', vip = false) {
  return source
    .replace(/\{\{ contact\.attributes\.name \}\}/g, 'Ada &amp; Co')
    .replace(/\{\{ contact\.id \}\}/g, contactId)
    .replace(/\{\{ unsubscribe_url \}\}/g, 'https://mail.example.com/u/TOKEN')
    .replace(/\{\{ preferences_url \}\}/g, 'https://mail.example.com/p/TOKEN')
    .replace(/\{% if [^%]*%\}([\s\S]*?)\{% endif %\}/g, vip ? '$1' : '');
}

function clickTokens(html: string): string[] {
  return [...html.matchAll(/https:\/\/mail\.example\.com\/c\/([A-Za-z0-9_-]+)/g)].map((m) => m[1] as string);
}

describe('scanTemplate', () => {
  it('finds static absolute links once, in order, and leaves everything else alone', () => {
    const { scan } = tracker();
    expect(scan.urls).toEqual([
      'https://shop.example.com/sale?a=1&b=2',
      'https://shop.example.com/new',
      'https://shop.example.com/vip',
      'https://shop.example.com/text-only',
      'https://shop.example.com/more',
    ]);
    expect(scan.hasNotrack).toBe(true);
    // Stylesheet links are not <a>; Liquid-built, own, mailto, tel, anchors, relative: not tracked.
    expect(scan.urls.join(' ')).not.toMatch(
      /fonts|mailto|tel:|#top|relative|mail\.example\.com|private|\/u\//,
    );
  });

  it('finds nothing in a template without links', () => {
    const scan = scanTemplate('<p>Hi</p>', 'Hi', { publicUrl });
    expect(scan.urls).toEqual([]);
    expect(scan.hasNotrack).toBe(false);
  });
});

describe('prepareTracking().apply', () => {
  it('rewrites tracked links to signed click URLs carrying the link id, adds the pixel and strips data-herald-notrack', () => {
    const { tracker: t, linkIds } = tracker();
    const out = t.apply({ html: render(compiledHtml), text: render(compiledText) }, ids);
    const tokens = clickTokens(out.html);
    // sale (twice), new: the VIP block did not render for this recipient.
    expect(tokens).toHaveLength(3);
    const payloads = tokens.map((token) => verifyToken(keyring, 'click', token, now));
    expect(payloads.map((p) => p?.linkId)).toEqual([
      linkIds.get('https://shop.example.com/sale?a=1&b=2'),
      linkIds.get('https://shop.example.com/new'),
      linkIds.get('https://shop.example.com/sale?a=1&b=2'),
    ]);
    expect(payloads[0]).toMatchObject({ ...ids, campaignId: ids.campaignId });
    // Single quotes kept, other attributes kept.
    expect(out.html).toContain(`<a class="btn" href='https://mail.example.com/c/${tokens[1]}'>New</a>`);
    expect(out.html).toContain('style="color:red">Sale</a>');
    // Untouched links.
    for (const kept of [
      'href="https://shop.example.com/u/c-1"',
      'href="https://mail.example.com/u/TOKEN"',
      'href="mailto:help@example.com"',
      'href="tel:+491234"',
      'href="#top"',
      'href="/relative"',
      'href="https://mail.example.com/m/abc"',
      '<link href="https://fonts.example.com/css"',
      '<a href="https://private.example.com/">Private</a>',
      '<a href="https://private.example.com/2">Private 2</a>',
    ])
      expect(out.html).toContain(kept);
    expect(out.html).not.toContain('data-herald-notrack');
    // The pixel, before </body>, with a valid open token.
    const pixel =
      /<img src="https:\/\/mail\.example\.com\/o\/([A-Za-z0-9_-]+)" width="1" height="1" alt="" style="[^"]+"><\/body>/.exec(
        out.html,
      );
    expect(pixel).not.toBeNull();
    expect(verifyToken(keyring, 'open', pixel?.[1] as string, now)).toMatchObject(ids);
    expect(verifyToken(keyring, 'click', pixel?.[1] as string, now)).toBeUndefined();
  });

  it('rewrites static URLs in the text part, keeps sentence punctuation, and uses the same token as the HTML', () => {
    const { tracker: t, linkIds } = tracker();
    const out = t.apply({ html: render(compiledHtml), text: render(compiledText) }, ids);
    const lines = out.text.split('\n');
    expect(lines[1]).toMatch(/^Sale \[https:\/\/mail\.example\.com\/c\/[A-Za-z0-9_-]+\]$/);
    expect(lines[2]).toMatch(/^See https:\/\/mail\.example\.com\/c\/[A-Za-z0-9_-]+\.$/);
    expect(lines[3]).toBe('Your page: https://shop.example.com/u/c-1');
    expect(lines[4]).toMatch(/^\(more at https:\/\/mail\.example\.com\/c\/[A-Za-z0-9_-]+\)$/);
    expect(lines[5]).toBe('Unsubscribe: https://mail.example.com/u/TOKEN');
    const saleToken = /\/c\/([A-Za-z0-9_-]+)\]/.exec(out.text)?.[1] as string;
    expect(verifyToken(keyring, 'click', saleToken, now)?.linkId).toBe(
      linkIds.get('https://shop.example.com/sale?a=1&b=2'),
    );
    expect(clickTokens(out.html)[0]).toBe(saleToken);
  });

  it('tracks links inside Liquid blocks when they render', () => {
    const { tracker: t, linkIds } = tracker();
    const out = t.apply({ html: render(compiledHtml, 'c-2', true), text: '' }, ids);
    const vip = clickTokens(out.html).map((token) => verifyToken(keyring, 'click', token, now)?.linkId);
    expect(vip).toContain(linkIds.get('https://shop.example.com/vip'));
  });

  it('adds one hidden honeypot link: a click token without a link id', () => {
    const { tracker: t } = tracker({ honeypot: true });
    const out = t.apply({ html: render(compiledHtml), text: '' }, ids);
    const honeypot =
      /<body style="margin:0"><a href="https:\/\/mail\.example\.com\/c\/([A-Za-z0-9_-]+)" style="display:none[^"]*" aria-hidden="true" tabindex="-1"><\/a>/.exec(
        out.html,
      );
    expect(honeypot).not.toBeNull();
    const payload = verifyToken(keyring, 'click', honeypot?.[1] as string, now);
    expect(payload).toMatchObject(ids);
    expect(payload?.linkId).toBeUndefined();
  });

  it('does nothing but strip data-herald-notrack when the contact did not consent', () => {
    const { tracker: t } = tracker({ honeypot: true });
    const html = render(compiledHtml);
    const text = render(compiledText);
    const out = t.apply({ html, text }, { ...ids, trackingConsent: false });
    expect(out.text).toBe(text);
    expect(out.html).toBe(html.replace(/ data-herald-notrack(="")?/g, ''));
    expect(out.html).not.toContain('/o/');
    expect(out.html).not.toContain('/c/');
  });

  it('tracks opens only, or clicks only, as the campaign says', () => {
    const opensOnly = tracker({ trackClicks: false, honeypot: true }).tracker.apply(
      { html: render(compiledHtml), text: render(compiledText) },
      ids,
    );
    expect(clickTokens(opensOnly.html)).toEqual([]);
    expect(opensOnly.text).not.toContain('/c/');
    expect(opensOnly.html).toContain('https://mail.example.com/o/');
    expect(opensOnly.html).not.toContain('data-herald-notrack');

    const clicksOnly = tracker({ trackOpens: false }).tracker.apply(
      { html: render(compiledHtml), text: '' },
      ids,
    );
    expect(clickTokens(clicksOnly.html)).toHaveLength(3);
    expect(clicksOnly.html).not.toContain('/o/');
  });

  it('appends the pixel to HTML without a body element', () => {
    const scan = scanTemplate('<p><a href="https://x.example.com/">x</a></p>', '', { publicUrl });
    const t = prepareTracking({
      keyring,
      publicUrl,
      scan,
      linkIds: new Map([['https://x.example.com/', ids.campaignId]]),
      trackOpens: true,
      trackClicks: true,
      honeypot: true,
    });
    const out = t.apply({ html: '<p><a href="https://x.example.com/">x</a></p>', text: '' }, ids);
    expect(out.html).toMatch(/^<a href="https:\/\/mail\.example\.com\/c\/[^"]+" style="display:none/);
    expect(out.html).toMatch(/<img src="https:\/\/mail\.example\.com\/o\/[^"]+"[^>]*>$/);
  });

  it('is fast enough for the sending hot path', () => {
    const { tracker: t } = tracker();
    const html = render(compiledHtml);
    const text = render(compiledText);
    // Not a timing assertion: it must simply work many times over without state leaking between recipients.
    let last = '';
    for (let i = 0; i < 200; i++) last = t.apply({ html, text }, ids).html;
    expect(clickTokens(last)).toHaveLength(3);
  });
});

describe('destinationUrl', () => {
  it('appends UTM parameters the URL does not have, then hid, before the fragment', () => {
    expect(
      destinationUrl(
        'https://shop.example.com/p?utm_source=own#top',
        { utm_source: 'herald', utm_medium: 'email', utm_campaign: 'spring sale' },
        'hit-1',
      ),
    ).toBe(
      'https://shop.example.com/p?utm_source=own&utm_medium=email&utm_campaign=spring%20sale&hid=hit-1#top',
    );
    expect(destinationUrl('https://shop.example.com/', {}, 'h')).toBe('https://shop.example.com/?hid=h');
    expect(destinationUrl('https://shop.example.com/?', { utm_term: 'x' })).toBe(
      'https://shop.example.com/?utm_term=x',
    );
    expect(destinationUrl('https://shop.example.com/a', { utm_content: null })).toBe(
      'https://shop.example.com/a',
    );
  });
});
