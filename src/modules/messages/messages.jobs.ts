import type { TaskRegistry } from '../../jobs/index.js';
import { type MessageService, SEND_TASK } from './messages.service.js';

function parse(payload: unknown): { workspaceId: string; messageId: string } {
  const p = payload as { workspaceId?: unknown; messageId?: unknown };
  if (typeof p?.workspaceId !== 'string' || typeof p.messageId !== 'string') {
    throw new Error(`${SEND_TASK}: malformed payload`);
  }
  return { workspaceId: p.workspaceId, messageId: p.messageId };
}

export function messageTasks(deps: { messages: MessageService }): TaskRegistry {
  return {
    [SEND_TASK]: {
      run: async (payload) => {
        const { workspaceId, messageId } = parse(payload);
        await deps.messages.send(workspaceId, messageId);
      },
      onGiveUp: async (payload, reason) => {
        const { workspaceId, messageId } = parse(payload);
        await deps.messages.giveUp(workspaceId, messageId, reason);
      },
    },
  };
}
