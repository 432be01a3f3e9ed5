import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/main/cli.ts', import.meta.url));

/** Runs the real `herald` CLI from source (through tsx), as a user would, in its own process. */
export function heraldArgs(args: string[]): string[] {
  return ['--import', 'tsx', CLI, ...args];
}

export function runHerald(args: string[], env: Record<string, string>, input?: string) {
  const result = spawnSync(process.execPath, heraldArgs(args), {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    input,
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** Everything printed to stdout so far. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `herald serve` and resolves once it prints the address it listens on. */
export function startHerald(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, heraldArgs(['serve']), {
    env: { PATH: process.env.PATH ?? '', HERALD_PORT: '0', HERALD_LOG_LEVEL: 'warn', ...env },
  });
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`herald serve did not start:\n${stdout}\n${stderr}`)),
      60_000,
    );
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1],
          output: () => stdout,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done(child.exitCode);
              child.once('exit', (code) => done(code));
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`herald serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}
