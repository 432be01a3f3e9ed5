import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DOVECOT_BINARY = '/usr/sbin/dovecot';

export interface Dovecot {
  host: string;
  port: number;
  user: string;
  password: string;
  close(): Promise<void>;
}

/**
 * Why IMAP tests cannot run here, or undefined when they can. A missing
 * server is a skip, unless HERALD_REQUIRE_IMAP=1 (CI) makes it a failure.
 */
export function dovecotMissing(): string | undefined {
  if (existsSync(DOVECOT_BINARY)) return undefined;
  const reason = `${DOVECOT_BINARY} not found (Debian package dovecot-imapd): IMAP tests skipped`;
  if (process.env.HERALD_REQUIRE_IMAP === '1') throw new Error(`HERALD_REQUIRE_IMAP=1 but ${reason}`);
  console.warn(reason);
  return reason;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A real Dovecot IMAP server on 127.0.0.1, in a temporary folder: plain-text
 * login (no TLS), one user with a Maildir. Run as root, so the mail folder is
 * handed to the dovecot user the mail processes run as.
 */
export async function startDovecot(options: { user?: string; password?: string } = {}): Promise<Dovecot> {
  const user = options.user ?? 'bounces';
  const password = options.password ?? 'secret';
  const dir = mkdtempSync(join(tmpdir(), 'herald-dovecot-'));
  // mkdtemp makes it 0700: the mail processes run as dovecot and must get through to their Maildir.
  chmodSync(dir, 0o755);
  const port = await freePort();
  mkdirSync(join(dir, 'mail'));
  mkdirSync(join(dir, 'state'));
  writeFileSync(join(dir, 'users'), `${user}:{PLAIN}${password}\n`);
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    [
      'protocols = imap',
      'listen = 127.0.0.1',
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      `info_log_path = ${dir}/dovecot.log`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      // Dovecot waits 2 s before answering a failed login; the bad-credentials test need not. (Its per-IP
      // penalty still slows the next login from 127.0.0.1 by a few seconds.)
      'auth_failure_delay = 0',
      'default_login_user = dovenull',
      'default_internal_user = dovecot',
      'first_valid_uid = 1',
      `passdb {\n  driver = passwd-file\n  args = ${dir}/users\n}`,
      `userdb {\n  driver = static\n  args = uid=dovecot gid=dovecot home=${dir}/mail/%u\n}`,
      'mail_location = maildir:~/Maildir',
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
      '',
    ].join('\n'),
  );
  execFileSync('chown', ['-R', 'dovecot:dovecot', join(dir, 'mail')]);

  const child: ChildProcess = spawn(DOVECOT_BINARY, ['-F', '-c', conf], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const log = () =>
    existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8') : '';
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`dovecot did not start on port ${port}:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    async close() {
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
