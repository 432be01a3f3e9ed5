import type { SecretKeyring } from '../../lib/secret-keys.js';
import { createToken } from '../../lib/signed-tokens.js';

/**
 * Link rewriting and the open pixel, in two steps:
 *
 * 1. `scanTemplate` runs once per template version on its compiled HTML and
 *    text (Liquid still in them) and finds the static links worth tracking.
 * 2. `prepareTracking` (once per campaign) returns `apply`, which runs per
 *    recipient on the rendered message: one regular-expression pass over the
 *    `<a>` start tags and one over the text's URLs, a map lookup per link, a
 *    signed token per tracked link. No HTML parser per recipient.
 *
 * A link is tracked when its href is a static absolute http(s) URL. Left
 * alone: mailto:, tel:, #anchors, relative URLs, Herald's own pages (under the
 * public URL: unsubscribe, preferences, view in browser), links with the
 * `data-herald-notrack` attribute (which is removed from the output), and
 * hrefs built with Liquid (`{{ ... }}` / `{% ... %}` in the href), whose URL
 * differs per recipient and so cannot be registered once per version.
 */

/** `<a ...>` start tags; attribute values holding `>` are not expected in compiled (juice/MJML) HTML. */
const A_TAG = /<a\s[^>]*>/gi;
const HREF_ATTR = /(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)')/i;
const NOTRACK_ATTR = /\sdata-herald-notrack(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?/gi;
const NOTRACK_TEST = /\sdata-herald-notrack(?=[\s=/>])/i;
/** URLs in the text part. Braces end a URL so a Liquid-built one (`https://x/?id={{ ... }}`) is seen as such. */
const TEXT_URL = /https?:\/\/[^\s<>"'{}|\\^`[\]]+/gi;
const LIQUID = /\{\{|\{%/;

export interface TemplateScan {
  /** Distinct destination URLs in order of first appearance (HTML, then text): what template_links stores. */
  urls: string[];
  /** Raw href attribute value (as it appears in the HTML, entities and all) -> destination URL. */
  htmlKeys: Map<string, string>;
  /** URL as it appears in the text part -> destination URL. */
  textKeys: Map<string, string>;
  /** Whether any `<a>` carries data-herald-notrack (so apply strips it). */
  hasNotrack: boolean;
}

/** Finds the trackable static links of a template version's compiled HTML and text. */
export function scanTemplate(html: string, text: string, options: { publicUrl: string }): TemplateScan {
  const base = options.publicUrl.replace(/\/+$/, '');
  const urls: string[] = [];
  const seen = new Set<string>();
  const htmlKeys = new Map<string, string>();
  const textKeys = new Map<string, string>();
  let hasNotrack = false;
  const add = (url: string) => {
    if (!seen.has(url)) {
      seen.add(url);
      urls.push(url);
    }
  };

  for (const match of html.matchAll(A_TAG)) {
    const tag = match[0];
    if (NOTRACK_TEST.test(tag)) {
      hasNotrack = true;
      continue;
    }
    const href = HREF_ATTR.exec(tag);
    if (!href) continue;
    const raw = href[2] ?? href[3] ?? '';
    if (htmlKeys.has(raw)) continue;
    const url = trackableUrl(decodeEntities(raw).trim(), base);
    if (url === undefined) continue;
    htmlKeys.set(raw, url);
    add(url);
  }

  for (const match of text.matchAll(TEXT_URL)) {
    const end = (match.index ?? 0) + match[0].length;
    // A URL running into Liquid is built per recipient.
    if (LIQUID.test(text.slice(end, end + 2))) continue;
    const raw = trimUrl(match[0]);
    if (textKeys.has(raw)) continue;
    const url = trackableUrl(raw, base);
    if (url === undefined) continue;
    textKeys.set(raw, url);
    add(url);
  }
  return { urls, htmlKeys, textKeys, hasNotrack };
}

function trackableUrl(url: string, base: string): string | undefined {
  if (!/^https?:\/\/[^/?#\s]/i.test(url)) return undefined;
  if (LIQUID.test(url)) return undefined;
  if (url === base || url.startsWith(`${base}/`)) return undefined;
  if (url.length > 2000) return undefined;
  return url;
}

/** Drops punctuation that ends a sentence rather than the URL; a closing parenthesis only when unbalanced. */
function trimUrl(url: string): string {
  let end = url.length;
  for (;;) {
    const c = url[end - 1];
    if (c === undefined) break;
    if ('.,;:!?'.includes(c)) {
      end--;
      continue;
    }
    if (c === ')') {
      const body = url.slice(0, end);
      if ((body.match(/\(/g)?.length ?? 0) < (body.match(/\)/g)?.length ?? 0)) {
        end--;
        continue;
      }
    }
    break;
  }
  return url.slice(0, end);
}

const NAMED: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', nbsp: '\u00a0' };

function decodeEntities(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}

export interface TrackingIds {
  workspaceId: string;
  /** The uuid part of the Message-ID. */
  messageId: string;
  contactId: string;
  campaignId?: string | undefined;
  /** The contact's tracking consent; false leaves the message untouched (apart from data-herald-notrack). */
  trackingConsent?: boolean | undefined;
}

export interface TrackingOptions {
  keyring: SecretKeyring;
  publicUrl: string;
  scan: TemplateScan;
  /** Destination URL -> template_links.id, for every URL of the scan. */
  linkIds: ReadonlyMap<string, string>;
  trackOpens: boolean;
  trackClicks: boolean;
  /**
   * Adds one invisible link per message (clicks tracked only). People never
   * see it; link scanners that follow every href do, and their clicks on the
   * message's other links are then labelled scanner.
   */
  honeypot?: boolean | undefined;
}

export interface Tracker {
  /** Rewrites one rendered message: tracked links, open pixel, honeypot link. */
  apply(message: { html: string; text: string }, ids: TrackingIds): { html: string; text: string };
}

export const PIXEL_STYLE =
  'display:block;width:1px;height:1px;border:0;margin:0;padding:0;overflow:hidden;max-height:1px;max-width:1px';
const HONEYPOT_STYLE = 'display:none;max-height:0;overflow:hidden;mso-hide:all';

/** Builds the per-recipient rewriter of one campaign (or transactional template) and version. */
export function prepareTracking(options: TrackingOptions): Tracker {
  const { keyring, scan, linkIds, trackOpens } = options;
  const base = options.publicUrl.replace(/\/+$/, '');
  const trackClicks = options.trackClicks && scan.urls.length > 0;
  const honeypot = options.trackClicks && (options.honeypot ?? true);
  // Raw key -> link id, resolved once here rather than per recipient.
  const htmlLinks = new Map<string, string>();
  const textLinks = new Map<string, string>();
  for (const [raw, url] of scan.htmlKeys) {
    const id = linkIds.get(url);
    if (id) htmlLinks.set(raw, id);
  }
  for (const [raw, url] of scan.textKeys) {
    const id = linkIds.get(url);
    if (id) textLinks.set(raw, id);
  }

  const stripNotrack = (html: string) =>
    scan.hasNotrack ? html.replace(A_TAG, (tag) => tag.replace(NOTRACK_ATTR, '')) : html;

  return {
    apply(message, ids) {
      if (ids.trackingConsent === false || (!trackOpens && !trackClicks && !honeypot)) {
        return { html: stripNotrack(message.html), text: message.text };
      }
      const payload = {
        workspaceId: ids.workspaceId,
        messageId: ids.messageId,
        contactId: ids.contactId,
        campaignId: ids.campaignId,
      };
      let html = message.html;
      let text = message.text;
      if (trackClicks) {
        // One token per link and message, shared by the HTML and text parts.
        const tokens = new Map<string, string>();
        const urlFor = (linkId: string) => {
          let url = tokens.get(linkId);
          if (url === undefined) {
            url = `${base}/c/${createToken(keyring, 'click', { ...payload, linkId })}`;
            tokens.set(linkId, url);
          }
          return url;
        };
        html = html.replace(A_TAG, (tag) => {
          if (scan.hasNotrack && NOTRACK_TEST.test(tag)) return tag.replace(NOTRACK_ATTR, '');
          const href = HREF_ATTR.exec(tag);
          if (!href) return tag;
          const linkId = htmlLinks.get(href[2] ?? href[3] ?? '');
          if (linkId === undefined) return tag;
          const quote = href[2] !== undefined ? '"' : "'";
          const at = href.index + (href[1] ?? '').length;
          const end = at + 2 + (href[2] ?? href[3] ?? '').length;
          return `${tag.slice(0, at)}${quote}${urlFor(linkId)}${quote}${tag.slice(end)}`;
        });
        if (textLinks.size > 0) {
          text = text.replace(TEXT_URL, (found) => {
            const raw = trimUrl(found);
            const linkId = textLinks.get(raw);
            return linkId === undefined ? found : urlFor(linkId) + found.slice(raw.length);
          });
        }
      } else {
        html = stripNotrack(html);
      }
      if (honeypot) {
        const link = `<a href="${base}/c/${createToken(keyring, 'click', payload)}" style="${HONEYPOT_STYLE}" aria-hidden="true" tabindex="-1"></a>`;
        html = insertAfterBodyOpen(html, link);
      }
      if (trackOpens) {
        const pixel = `<img src="${base}/o/${createToken(keyring, 'open', payload)}" width="1" height="1" alt="" style="${PIXEL_STYLE}">`;
        html = insertBeforeBodyClose(html, pixel);
      }
      return { html, text };
    },
  };
}

function insertBeforeBodyClose(html: string, fragment: string): string {
  let at = html.lastIndexOf('</body');
  if (at < 0) {
    const upper = /<\/body/gi;
    let match: RegExpExecArray | null = upper.exec(html);
    while (match) {
      at = match.index;
      match = upper.exec(html);
    }
  }
  if (at < 0) return html + fragment;
  return html.slice(0, at) + fragment + html.slice(at);
}

function insertAfterBodyOpen(html: string, fragment: string): string {
  const match = /<body\b[^>]*>/i.exec(html);
  if (!match) return fragment + html;
  const at = match.index + match[0].length;
  return html.slice(0, at) + fragment + html.slice(at);
}

/** The destination of a click: the stored URL plus the campaign's UTM parameters (never overriding the URL's own) and the click id. */
export function destinationUrl(
  url: string,
  utm: Partial<Record<UtmKey, string | null>>,
  hitId?: string,
): string {
  const extra: string[] = [];
  // Parsed only when there are UTM values to check against the link's own parameters.
  let parsed: URL | undefined | null = null;
  for (const key of UTM_KEYS) {
    const value = utm[key];
    if (!value) continue;
    if (parsed === null) parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (parsed?.searchParams.has(key)) continue;
    extra.push(`${key}=${encodeURIComponent(value)}`);
  }
  if (hitId) extra.push(`hid=${hitId}`);
  if (extra.length === 0) return url;
  const hash = url.indexOf('#');
  const head = hash < 0 ? url : url.slice(0, hash);
  const tail = hash < 0 ? '' : url.slice(hash);
  const sep = head.includes('?') ? (head.endsWith('?') || head.endsWith('&') ? '' : '&') : '?';
  return `${head}${sep}${extra.join('&')}${tail}`;
}

export const UTM_KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'] as const;
export type UtmKey = (typeof UTM_KEYS)[number];
