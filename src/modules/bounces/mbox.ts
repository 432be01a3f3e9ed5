/**
 * The messages of an mbox file (mboxrd and mboxo): each starts at a `From `
 * line at the start of the file or after a blank line; quoted `>From ` lines
 * are unquoted. A file that does not start with `From ` is one message.
 */
export function splitMbox(text: string): string[] {
  const normalized = text.replace(/\r\n?/g, '\n');
  if (!normalized.startsWith('From ')) return [normalized];
  const messages: string[] = [];
  let current: string[] | undefined;
  let previousBlank = true;
  for (const line of normalized.split('\n')) {
    if (previousBlank && line.startsWith('From ')) {
      if (current) messages.push(current.join('\n'));
      current = [];
    } else current?.push(line.replace(/^>(>*From )/, '$1'));
    previousBlank = line === '';
  }
  if (current) messages.push(current.join('\n'));
  return messages.filter((m) => m.trim() !== '');
}
