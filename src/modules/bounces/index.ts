export { type ParsedReport, parseReport, type ReportedRecipient, type ReportKind } from './bounce-parser.js';
export { BOUNCE_REASONS, type BounceReason, classifyFailure, type Severity } from './bounce-reasons.js';
export { splitMbox } from './mbox.js';
export { mailgunEvents, type ProviderEvent } from './provider-events.js';
export { unsubscribeAddressTokens } from './unsubscribe-request.js';
