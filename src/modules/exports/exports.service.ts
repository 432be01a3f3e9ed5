import { Readable } from 'node:stream';
import type { Clock } from '../../lib/clock.js';
import type { ContactFilter, ContactService } from '../contacts/index.js';
import { CONTENT_TYPES, csvHeader, csvRecords, type ExportFormat, ndjsonRecords } from './contact-format.js';

export interface ExportServiceDeps {
  contacts: Pick<ContactService, 'iterate' | 'attributeKeys'>;
  clock: Clock;
  /**
   * The stored engagement of a page of contacts, so an NDJSON line is the
   * contact as the API shows it (`engagement`, null until computed). Absent:
   * lines carry no engagement.
   */
  engagement?: {
    forContacts(workspaceId: string, contactIds: readonly string[]): Promise<ReadonlyMap<string, unknown>>;
  };
}

export interface ExportOptions {
  format: ExportFormat;
  /** Contacts fetched per query; one page is the most the export holds in memory. */
  pageSize?: number | undefined;
  /**
   * Called once when the stream ends: `complete` is false when the reader
   * went away (client disconnect, destroyed stream) or a query failed.
   */
  onEnd?: ((result: { count: number; complete: boolean }) => void) | undefined;
  /** Called with the running count each time a page has been handed to the stream. */
  onProgress?: ((count: number) => void) | undefined;
}

export interface ContactExport {
  format: ExportFormat;
  contentType: string;
  /** A suggested file name, e.g. contacts-2026-01-31.csv. */
  filename: string;
  /** Byte stream of the file; reads pull pages from the database only as fast as the reader consumes. */
  stream: Readable;
}

export function createExportService(deps: ExportServiceDeps) {
  const { contacts, clock } = deps;

  return {
    /**
     * Opens an export of the contacts matching `filter`, in id order. For CSV
     * the attribute columns are found first (one query), so any problem with
     * the filter surfaces here, before a response has started. Contacts that
     * gain a new attribute key while the export runs are exported without it.
     */
    async contacts(
      workspaceId: string,
      filter: ContactFilter,
      options: ExportOptions,
    ): Promise<ContactExport> {
      const { format } = options;
      const keys = format === 'csv' ? await contacts.attributeKeys(workspaceId, filter) : [];
      const pages = contacts.iterate(workspaceId, filter, options.pageSize);

      let count = 0;
      let complete = false;
      async function* chunks(): AsyncGenerator<Buffer> {
        if (format === 'csv') yield Buffer.from(csvHeader(keys));
        for await (const page of pages) {
          count += page.length;
          if (format === 'csv') yield Buffer.from(csvRecords(page, keys));
          else if (!deps.engagement) yield Buffer.from(ndjsonRecords(page));
          else {
            const computed = await deps.engagement.forContacts(
              workspaceId,
              page.map((c) => c.id),
            );
            yield Buffer.from(
              ndjsonRecords(page.map((c) => ({ ...c, engagement: computed.get(c.id) ?? null }))),
            );
          }
          options.onProgress?.(count);
        }
        complete = true;
      }
      // Destroying the stream (a client that disconnects) returns the generator,
      // which returns the page iterator: no further query is made.
      const stream = Readable.from(chunks(), { objectMode: false });
      stream.once('close', () => options.onEnd?.({ count, complete: complete && !stream.errored }));

      return {
        format,
        contentType: CONTENT_TYPES[format],
        filename: `contacts-${clock.now().toISOString().slice(0, 10)}.${format}`,
        stream,
      };
    },
  };
}

export type ExportService = ReturnType<typeof createExportService>;
