import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { type ParsedReport, parseReport, splitMbox } from '../../modules/bounces/index.js';

/** One output line per recipient a report names (or one for a report that names none). */
export function reportLines(file: string, index: number, report: ParsedReport): Record<string, unknown>[] {
  const common = {
    file,
    message: index,
    type: report.kind,
    format: report.format,
    original_message_id: report.originalMessageId,
    return_path: report.returnPath,
    reporting_mta: report.reportingMta,
  };
  if (report.recipients.length === 0) {
    return [
      {
        ...common,
        recipient: report.from,
        reason: report.kind === 'auto_reply' ? 'auto_reply' : null,
        severity: null,
      },
    ];
  }
  return report.recipients.map((r) => ({
    ...common,
    type: r.kind,
    recipient: r.recipient,
    action: r.action,
    status: r.status,
    reply_code: r.replyCode,
    reason: r.reason,
    severity: r.severity,
    remote_mta: r.remoteMta,
    diagnostic: r.diagnostic,
    ...(r.feedbackType ? { feedback_type: r.feedbackType } : {}),
  }));
}

export function bouncesCommand(): Command {
  const bounces = new Command('bounces').description('Bounce and complaint reports');
  bounces
    .command('parse')
    .description(
      'Classify bounce messages (DSN, ARF complaints, qmail/Yahoo/Exim notices, auto-replies) read from .eml files or mbox files, without a database: prints one JSON object per recipient found (file, message number in the file, type, recipient, status, reply_code, reason, severity hard|soft, original_message_id, return_path, diagnostic)',
    )
    .argument('<file...>', '.eml (one message) or mbox files')
    .action((files: string[]) => {
      let failed = false;
      for (const file of files) {
        let text: string;
        try {
          text = readFileSync(file, 'latin1');
        } catch (error) {
          process.stderr.write(`cannot read ${file}: ${(error as Error).message}\n`);
          failed = true;
          continue;
        }
        splitMbox(text).forEach((message, i) => {
          for (const line of reportLines(file, i + 1, parseReport(Buffer.from(message, 'latin1'))))
            process.stdout.write(`${JSON.stringify(line)}\n`);
        });
      }
      if (failed) process.exitCode = 1;
    });
  return bounces;
}
