import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/**
 * The layout and headers of Herald's public HTML pages (unsubscribe,
 * preference center, hosted form, confirmations): one small stylesheet, no
 * scripts, everything escaped, never cached, no referrer sent onwards, and a
 * Content-Security-Policy that allows only that stylesheet and same-origin
 * form posts.
 */

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fff;--muted:#55575d;--accent:#1f5fbf;--line:#c9cbd1}
@media (prefers-color-scheme:dark){:root{--fg:#ececf0;--bg:#17181b;--muted:#b3b5bb;--accent:#8ab4ff;--line:#45474d}}
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:36rem;margin:0 auto;padding:2rem 1rem}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}
p,ul,fieldset{margin:0 0 1rem}
a{color:var(--accent)}
.muted{color:var(--muted);font-size:.9rem}
fieldset{border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem}
legend{font-weight:600;padding:0 .25rem}
label{display:block;margin:.5rem 0}
.choice{display:flex;gap:.6rem;align-items:flex-start;padding:.35rem 0}
.choice input{margin-top:.3rem;width:1.15rem;height:1.15rem}
input[type=email],input[type=text],input[type=password]{display:block;width:100%;font:inherit;padding:.6rem;border:1px solid var(--line);border-radius:.4rem;background:var(--bg);color:var(--fg)}
button{font:inherit;font-weight:600;padding:.65rem 1.1rem;min-height:2.75rem;border:0;border-radius:.4rem;background:var(--accent);color:var(--bg);cursor:pointer}
button.secondary{background:transparent;color:var(--accent);border:1px solid var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
`;

const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** Pages Herald writes itself: only the inline stylesheet above, forms post to Herald, no framing. */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src ${STYLE_HASH}`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Email HTML shown in the browser (view in browser): no scripts, no forms, no
 * frames, no plugins; images, inline styles and fonts as the email itself
 * would load them.
 */
export const EMAIL_VIEW_CSP = [
  "default-src 'none'",
  'img-src https: http: data:',
  "style-src 'unsafe-inline' https:",
  'font-src https: data:',
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A complete page; `body` must already be escaped HTML. */
export function htmlPage(title: string, body: string, options: { lang?: string } = {}): string {
  return `<!doctype html>
<html lang="${escapeHtml(options.lang ?? 'en')}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;
}

/** The public-page headers: HTML, no caching, no referrer, strict CSP, not indexed. */
export function htmlPageHeaders(csp = PAGE_CSP): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-security-policy': csp,
    'x-robots-tag': 'noindex, nofollow',
  };
}

/** Sends HTML with the public-page headers (htmlPageHeaders). */
export function sendHtml(reply: FastifyReply, status: number, html: string, csp = PAGE_CSP): FastifyReply {
  return reply.code(status).headers(htmlPageHeaders(csp)).send(html);
}
