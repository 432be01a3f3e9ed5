/**
 * The CAN-SPAM postal address footer. Marketing email must show the sender's
 * physical postal address; a template that shows it itself (through
 * `{{ workspace.postal_address }}`, or the address written out) gets nothing,
 * any other gets a small footer. Applied to the compiled Liquid source once
 * per prepared version, so per recipient nothing is checked or appended.
 */

/** A reference to the variable, also in a snippet the version uses. */
const POSTAL_ADDRESS_VARIABLE = /\bworkspace\s*(?:\.\s*postal_address\b|\[\s*['"]postal_address['"]\s*\])/;

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

function showsAddress(source: string, snippets: readonly string[], literals: readonly string[]): boolean {
  return (
    literals.some((literal) => source.includes(literal)) ||
    POSTAL_ADDRESS_VARIABLE.test(source) ||
    snippets.some((snippet) => POSTAL_ADDRESS_VARIABLE.test(snippet))
  );
}

/** The footer as HTML: escaped, one <br> per line break. */
export function postalFooterHtml(address: string): string {
  const lines = address.split('\n').map(escapeHtml).join('<br>');
  return `<div class="herald-postal-address" style="margin:24px 0 0;font-size:12px;line-height:1.5;color:#6b6b6b;text-align:center">${lines}</div>`;
}

/**
 * The compiled HTML and text with the address footer added where the part
 * does not already show the address. The address holds no Liquid delimiters
 * (the workspace settings refuse them), so it stays literal text.
 */
export function withPostalAddress(
  parts: { compiled_html: string; compiled_text: string; snippets: Record<string, string> },
  address: string | null | undefined,
): { compiled_html: string; compiled_text: string } {
  const { compiled_html: html, compiled_text: text } = parts;
  if (!address) return { compiled_html: html, compiled_text: text };
  const snippets = Object.values(parts.snippets);
  let nextHtml = html;
  const escaped = escapeHtml(address);
  if (
    !showsAddress(html, snippets, [
      escaped,
      escaped.replaceAll('\n', '<br>'),
      escaped.replaceAll('\n', '<br/>'),
    ])
  ) {
    const footer = postalFooterHtml(address);
    // Inside the body, so the footer is part of the document rather than after it.
    const bodyEnd = html.search(/<\/body\s*>/i);
    nextHtml =
      bodyEnd === -1 ? `${html}${footer}` : `${html.slice(0, bodyEnd)}${footer}${html.slice(bodyEnd)}`;
  }
  const nextText = showsAddress(text, snippets, [address])
    ? text
    : `${text.replace(/\s+$/, '')}\n\n--\n${address}\n`;
  return { compiled_html: nextHtml, compiled_text: nextText };
}
