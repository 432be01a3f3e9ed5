/**
 * PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses unpaired
 * UTF-16 surrogates ("\ud800"): a value with either would fail the whole
 * statement it is in. Finds the first such string (keys included) in a JSON
 * value, with its JSON pointer, so the one bad input can be refused alone.
 * Values nested deeper than MAX_JSON_DEPTH are refused too (before anything
 * recursive such as JSON.stringify runs out of stack on them).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const MAX_JSON_DEPTH = 64;

export function unstorableText(
  value: unknown,
  path = '',
  depth = 0,
): { path: string; message: string } | undefined {
  if (depth > MAX_JSON_DEPTH) return { path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
  if (typeof value === 'string') {
    if (value.includes('\u0000'))
      return { path, message: 'contains a NUL character (\\u0000), which cannot be stored' };
    if (LONE_SURROGATE.test(value))
      return { path, message: 'contains an unpaired UTF-16 surrogate, which is not valid Unicode text' };
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableText(value[i], `${path}/${i}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const at = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      const bad = unstorableText(key, at, depth + 1) ?? unstorableText(inner, at, depth + 1);
      if (bad) return bad;
    }
  }
  return undefined;
}

/**
 * The same checks on a value already serialized by JSON.stringify, in one
 * pass over the text: JSON.stringify writes U+0000 as \u0000 and an unpaired
 * surrogate as \udxxx (a paired one it writes as is), and nesting shows as
 * brackets outside strings. Cheaper than walking the value on hot paths
 * (event ingestion), and the text is needed anyway.
 */
export function unstorableJson(json: string): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c /* \ */) {
        if (json.charCodeAt(i + 1) === 0x75 /* u */) {
          const hex = json.slice(i + 2, i + 6).toLowerCase();
          if (hex === '0000') return 'contains a NUL character (\\u0000), which cannot be stored';
          if (hex >= 'd800' && hex <= 'dfff' && hex.length === 4)
            return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode text';
        }
        i++;
      } else if (ch === 0x22 /* " */) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return `nests deeper than ${MAX_JSON_DEPTH} levels`;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return undefined;
}
