/**
 * Every error a user can cause, with its stable code and HTTP status, in one
 * place. Services throw DomainError; only the HTTP layer turns it into a
 * response, so core logic never knows about HTTP.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: 400,
  INVALID_CURSOR: 400,
  INVALID_EMAIL: 400,
  INVALID_ATTRIBUTE: 400,
  INVALID_MAPPING: 400,
  INVALID_CSV: 400,
  TRANSPORT_INVALID: 400,
  SCHEDULE_IN_PAST: 400,
  INVALID_DOMAIN: 400,
  INVALID_DKIM_KEY: 400,
  TEMPLATE_INVALID: 400,
  TEMPLATE_RENDER_FAILED: 400,
  SEGMENT_INVALID: 400,
  AUTOMATION_INVALID: 422,
  REPORT_UNREADABLE: 400,
  WEBHOOK_PAYLOAD_INVALID: 400,
  WEBHOOK_SIGNATURE_INVALID: 401,
  WEBHOOK_NOT_CONFIGURED: 403,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONTACT_NOT_FOUND: 404,
  LIST_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  IMPORT_NOT_FOUND: 404,
  ATTRIBUTE_NOT_FOUND: 404,
  WORKSPACE_NOT_FOUND: 404,
  TRANSPORT_NOT_FOUND: 404,
  SENDING_DOMAIN_NOT_FOUND: 404,
  CAMPAIGN_NOT_FOUND: 404,
  AB_TEST_NOT_FOUND: 404,
  HOLDOUT_NOT_FOUND: 404,
  TEMPLATE_NOT_FOUND: 404,
  TEMPLATE_VERSION_NOT_FOUND: 404,
  SNIPPET_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  CLICK_NOT_FOUND: 404,
  SEGMENT_NOT_FOUND: 404,
  AUTOMATION_NOT_FOUND: 404,
  AUTOMATION_VERSION_NOT_FOUND: 404,
  AUTOMATION_RUN_NOT_FOUND: 404,
  SUPPRESSION_NOT_FOUND: 404,
  THROTTLE_RULE_NOT_FOUND: 404,
  WARMUP_SCHEDULE_NOT_FOUND: 404,
  CAMPAIGN_STATE_CONFLICT: 409,
  CAMPAIGN_NOT_READY: 409,
  AUDIENCE_EMPTY: 409,
  CONTACT_EXISTS: 409,
  /** The address was erased at the person's request (privacy module): never created again by accident. */
  CONTACT_ERASED: 409,
  LIST_EXISTS: 409,
  TEMPLATE_EXISTS: 409,
  TEMPLATE_IN_USE: 409,
  SNIPPET_IN_USE: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  SNIPPET_EXISTS: 409,
  SENDING_DOMAIN_EXISTS: 409,
  SENDING_DOMAIN_UNVERIFIED: 409,
  ATTRIBUTE_EXISTS: 409,
  ATTRIBUTE_IN_USE: 409,
  TRANSPORT_EXISTS: 409,
  TRANSPORT_DEFAULT_CONFLICT: 409,
  TRANSPORT_IN_USE: 409,
  SEGMENT_EXISTS: 409,
  SEGMENT_IN_USE: 409,
  AUTOMATION_EXISTS: 409,
  AUTOMATION_STATE: 409,
  THROTTLE_RULE_CONFLICT: 409,
  WARMUP_SCHEDULE_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  NOT_READY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetail {
  /** JSON pointer-ish path to the offending field, e.g. `/attributes/age`. */
  path?: string;
  message: string;
  [key: string]: unknown;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetail[]) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
