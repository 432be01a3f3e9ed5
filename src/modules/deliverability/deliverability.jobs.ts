import type { TaskRegistry } from '../../jobs/index.js';
import type { ImapPoller } from './imap-poller.js';

export const IMAP_POLL_TASK = 'deliverability.imap_poll';

/** `deliverability.imap_poll` {}: reads every enabled bounce mailbox once (failures wait for the next period). */
export function deliverabilityTasks(deps: { imapPoller: Pick<ImapPoller, 'poll'> }): TaskRegistry {
  return {
    [IMAP_POLL_TASK]: async () => {
      await deps.imapPoller.poll();
    },
  };
}
