import nodemailer from 'nodemailer';
import { createSmtpTransport } from '../src/mail/transports/index.js';
import { campaignLikeMessage } from './campaign-message.js';
import { type Sink, startSink } from './smtp-sink.js';

/**
 * The SMTP leg alone: bare nodemailer's pool against Herald's SMTP transport
 * (its pool over smtp-client.ts), each sending one pre-built ~5 KB message to
 * the same local sink process, 8 connections, 100 messages per connection, a
 * window of 100 sends in flight (what the campaign sender keeps queued).
 * Reports messages per second, CPU per message of this (sending) process and
 * of the sink, and the ratios. Rounds alternate between the two so machine
 * noise hits both alike.
 */

const connections = 8;
const maxMessages = 100;
const window = 100;

interface Round {
  seconds: number;
  cpuMicros: number;
  sinkCpuMicros: number;
}

async function measure(sink: Sink, messages: number, send: () => Promise<unknown>): Promise<Round> {
  const countBefore = await sink.count();
  const sinkBefore = await sink.cpu();
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < messages) {
        next++;
        await send();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const sinkAfter = await sink.cpu();
  const received = (await sink.count()) - countBefore;
  if (received !== messages) throw new Error(`the sink received ${received} of ${messages} messages`);
  return {
    seconds,
    cpuMicros: cpu.user + cpu.system,
    sinkCpuMicros: sinkAfter.user + sinkAfter.system - sinkBefore.user - sinkBefore.system,
  };
}

export async function benchSmtpClient(options: { messages: number; rounds?: number | undefined }) {
  const rounds = options.rounds ?? 2;
  const raw = campaignLikeMessage(5_500);
  const envelope = { from: 'bounce@shop.example', to: ['person@example.com'] };
  const sink = await startSink();
  const bare = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port: sink.port,
    ignoreTLS: true,
    maxConnections: connections,
    maxMessages,
  });
  const herald = createSmtpTransport({
    host: '127.0.0.1',
    port: sink.port,
    tls: 'none',
    maxConnections: connections,
    maxMessages,
  });
  const clients = {
    nodemailer: () => bare.sendMail({ envelope, raw }),
    herald: () => herald.send({ raw, envelope, messageId: '<bench@shop.example>' }),
  };
  try {
    console.log(
      `\n== SMTP client (${options.messages} messages of ${raw.length} bytes per round, ${rounds} rounds each, ` +
        `${connections} connections, ${maxMessages} messages per connection, ${window} in flight, local sink process) ==`,
    );
    for (const send of Object.values(clients)) await measure(sink, 2000, send);
    const totals = { nodemailer: [] as Round[], herald: [] as Round[] };
    for (let round = 0; round < rounds; round++) {
      for (const name of ['nodemailer', 'herald'] as const) {
        totals[name].push(await measure(sink, options.messages, clients[name]));
      }
    }
    const summary = (name: 'nodemailer' | 'herald') => {
      const all = totals[name];
      const count = options.messages * all.length;
      const sum = (pick: (r: Round) => number) => all.reduce((total, r) => total + pick(r), 0);
      return {
        rate: count / sum((r) => r.seconds),
        cpu: sum((r) => r.cpuMicros) / count,
        sinkCpu: sum((r) => r.sinkCpuMicros) / count,
      };
    };
    const n = summary('nodemailer');
    const h = summary('herald');
    const line = (label: string, s: typeof n) =>
      `${label}: ${s.rate.toFixed(0)} msg/s, sender ${s.cpu.toFixed(1)} µs CPU per message, ` +
      `sink ${s.sinkCpu.toFixed(1)} µs CPU per message`;
    console.log(line('bare nodemailer pool        ', n));
    console.log(line('Herald pool + smtp-client.ts', h));
    console.log(
      `ratio Herald / nodemailer: throughput ${(h.rate / n.rate).toFixed(2)}, ` +
        `sender CPU per message ${(h.cpu / n.cpu).toFixed(2)}, sink CPU per message ${(h.sinkCpu / n.sinkCpu).toFixed(2)}`,
    );
  } finally {
    bare.close();
    await herald.close();
    await sink.stop();
  }
}
