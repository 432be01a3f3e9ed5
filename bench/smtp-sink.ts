import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The counting SMTP sink of smtp-sink-child.ts, in its own process, driven over IPC. */
export interface Sink {
  port: number;
  /** Messages accepted so far. */
  count(): Promise<number>;
  /** Bytes of message data accepted so far. */
  bytes(): Promise<number>;
  /** The sink process's CPU time so far (process.cpuUsage(): user and system, µs). */
  cpu(): Promise<{ user: number; system: number }>;
  stop(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const script = fileURLToPath(new URL('./smtp-sink-child.js', import.meta.url));
  const child: ChildProcess = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(key: string) =>
    new Promise<T>((resolve) => {
      const on = (message: Record<string, T>) => {
        if (key in message) {
          child.off('message', on);
          resolve(message[key] as T);
        }
      };
      child.on('message', on);
    });
  const port = await next<number>('port');
  const ask = <T>(key: string) => {
    const answer = next<T>(key);
    child.send(key);
    return answer;
  };
  return {
    port,
    count: () => ask<number>('count'),
    bytes: () => ask<number>('bytes'),
    cpu: () => ask<{ user: number; system: number }>('cpu'),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}
