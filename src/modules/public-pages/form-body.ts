/** A submitted HTML form: every field's values, in order (checkbox groups repeat a name). */
export type FormFields = Map<string, string[]>;

const MULTIPART = /^multipart\/form-data\s*;/i;

/**
 * Parses an `application/x-www-form-urlencoded` or `multipart/form-data` body
 * (RFC 8058 allows either for one-click unsubscribe). File parts are ignored.
 * Any other content type gives no fields: public pages read only form fields.
 */
export async function parseFormBody(contentType: string | undefined, body: Buffer): Promise<FormFields> {
  const fields: FormFields = new Map();
  const add = (name: string, value: string) => {
    const values = fields.get(name);
    if (values) values.push(value);
    else fields.set(name, [value]);
  };
  const type = (contentType ?? '').trim();
  if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) add(name, value);
  } else if (MULTIPART.test(type)) {
    let data: FormData;
    try {
      data = await new Response(body, { headers: { 'content-type': type } }).formData();
    } catch {
      return fields; // malformed multipart: no fields
    }
    for (const [name, value] of data) if (typeof value === 'string') add(name, value);
  }
  return fields;
}

export function field(fields: FormFields, name: string): string | undefined {
  return fields.get(name)?.[0];
}
