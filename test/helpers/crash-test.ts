import { type ChildProcess, spawn } from 'node:child_process';
import type { PGlite } from '@electric-sql/pglite';
import { openPglite } from '../../src/db/index.js';
import { heraldArgs } from './herald-process.js';
import type { TestApp } from './test-app.js';

/**
 * Shared by the crash tests: `herald worker` processes to start and kill,
 * handing the embedded database to them, reading captured messages and
 * polling for a condition.
 */

/** A header of a captured raw message, unfolded. */
export function header(raw: Buffer, name: string): string | undefined {
  const head = raw
    .subarray(0, raw.indexOf('\r\n\r\n'))
    .toString('latin1')
    .replace(/\r\n[ \t]+/g, ' ');
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `condition` holds; a random poll step, so kills land at random points of a batch. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2 + Math.random() * 15);
  }
}

/** `herald worker` processes with `env`; their output is kept for failure messages. */
export function workerProcesses(env: Record<string, string>) {
  let log = '';
  return {
    get log() {
      return log;
    },
    spawn(): ChildProcess {
      const child = spawn(process.execPath, heraldArgs(['worker']), {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
      });
      return child;
    },
    /** SIGKILL, resolved once the process is gone. */
    kill(child: ChildProcess): Promise<void> {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
  };
}

/**
 * PGlite allows one process per data folder: writes the test's in-memory
 * database to `dataDir` for the workers and closes the test's own app.
 */
export async function handPgliteToWorkers(app: TestApp, dataDir: string): Promise<void> {
  const dump = await (app.database as unknown as { pglite: PGlite }).pglite.dumpDataDir('none');
  await app.close();
  const folder = await openPglite({ dataDir, loadDataDir: dump });
  await folder.close();
}
