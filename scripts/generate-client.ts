/**
 * npm run client:generate — writes packages/client/openapi.json and the types
 * generated from it (packages/client/src/schema.ts). Run it after changing a
 * route; test/integration/client-package.test.ts fails until you do.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOpenApiDocument, serializeOpenApiDocument } from '../src/main/openapi-document.js';
import { CLIENT_DIR, generateClientSchema } from './client-schema.js';

async function main(): Promise<void> {
  const document = await buildOpenApiDocument();
  writeFileSync(join(CLIENT_DIR, 'openapi.json'), serializeOpenApiDocument(document));
  writeFileSync(join(CLIENT_DIR, 'src', 'schema.ts'), await generateClientSchema(document));
  process.stdout.write(`wrote ${join(CLIENT_DIR, 'openapi.json')} and src/schema.ts\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
