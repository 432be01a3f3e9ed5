import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

/**
 * Debian's Chromium for the browser tests, driven by playwright-core (which
 * downloads no browser). Without it a browser test file is skipped with a
 * printed reason, unless HERALD_REQUIRE_BROWSER=1 (set by .ci/run) makes a
 * missing browser a failure.
 */
export const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const required = process.env.HERALD_REQUIRE_BROWSER === '1';

/** Screenshots of the browser tests. */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e');

/** Whether the browser tests of a file run (for describe.runIf); prints why not when they do not. */
export function browserTestsRun(what: string): boolean {
  if (!available && !required) {
    console.warn(
      `${what} skipped: no Chromium at ${CHROMIUM} (install Debian's chromium, or set HERALD_CHROMIUM; HERALD_REQUIRE_BROWSER=1 makes this a failure)`,
    );
  }
  return available || required;
}

/** A port free right now on 127.0.0.1, so the public URL is known before the app is built. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile, as the machine's guide prescribes; close removes the profile. */
export async function launchChromium(): Promise<Chromium> {
  if (!available) {
    throw new Error(
      `HERALD_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium)`,
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'herald-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
