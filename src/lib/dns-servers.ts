/** The DNS servers Herald resolves through (the sending-domain check, the list-hygiene MX check). */

/** Parses HERALD_DNS_SERVERS ("127.0.0.1:5353, [::1]:53"); throws naming the entry that is not host:port. */
export function parseDnsServers(text: string | undefined): string[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.split(',').map((raw) => {
    const entry = raw.trim();
    if (!/^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/.test(entry))
      throw new Error(
        `HERALD_DNS_SERVERS entry "${entry}" is not an IP address with an optional port, e.g. 127.0.0.1:53 or [::1]:53`,
      );
    return entry;
  });
}
