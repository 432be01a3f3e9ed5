export type { FailureKind, MailPort, OutgoingMail } from './mail-port.js';
export { MARKETING_SUPPRESSED_STATUSES, SUPPRESSED_STATUSES } from './mail-port.js';
export { messageTasks } from './messages.jobs.js';
export { messagesRoutes } from './messages.routes.js';
export {
  createMessageService,
  type Message,
  type MessageInput,
  type MessageService,
  SEND_TASK,
} from './messages.service.js';
