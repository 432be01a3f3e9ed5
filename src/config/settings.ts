/**
 * Every setting Herald reads, in one table: its config-file key, its
 * environment variable, its type, default and meaning. The loader, the README
 * table and `herald --help` are all derived from this list.
 */
export interface SettingSpec {
  env: string;
  type: 'string' | 'integer' | 'boolean' | 'url' | 'enum';
  values?: readonly string[];
  min?: number;
  max?: number;
  default?: string | number | boolean;
  description: string;
}

export const SETTINGS = {
  host: {
    env: 'HERALD_HOST',
    type: 'string',
    default: '127.0.0.1',
    description: 'Address the HTTP server listens on.',
  },
  port: { env: 'HERALD_PORT', type: 'integer', min: 0, max: 65535, default: 3000, description: 'HTTP port.' },
  publicUrl: {
    env: 'HERALD_PUBLIC_URL',
    type: 'url',
    description: 'Base URL users reach Herald at (used in links). Default: http://localhost:PORT.',
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    type: 'url',
    description:
      'PostgreSQL connection URL. When unset, Herald uses the embedded database in the data folder.',
  },
  secretKeys: {
    env: 'HERALD_SECRET_KEYS',
    type: 'string',
    description:
      'Comma-separated base64 keys of 32 bytes (openssl rand -base64 32) that encrypt stored secrets and sign tokens; the first is current, the others still decrypt and verify (rotation). When unset, Herald keeps one in the data folder (secret.key); set it when several processes share a database.',
  },
  dataDir: {
    env: 'HERALD_DATA_DIR',
    type: 'string',
    default: './data',
    description: 'Folder for the embedded database and its lock file.',
  },
  databasePoolSize: {
    env: 'HERALD_DATABASE_POOL_SIZE',
    type: 'integer',
    min: 1,
    max: 200,
    default: 10,
    description: 'PostgreSQL connections per process (the embedded database always uses one).',
  },
  logLevel: {
    env: 'HERALD_LOG_LEVEL',
    type: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    description: 'Log level.',
  },
  rateLimitPerMinute: {
    env: 'HERALD_RATE_LIMIT_PER_MINUTE',
    type: 'integer',
    min: 1,
    default: 1200,
    description: 'API requests per minute per API key (per IP for unauthenticated requests).',
  },
  bodyLimitBytes: {
    env: 'HERALD_BODY_LIMIT_BYTES',
    type: 'integer',
    min: 1024,
    default: 1048576,
    description: 'Largest JSON request body accepted.',
  },
  importMaxBytes: {
    env: 'HERALD_IMPORT_MAX_BYTES',
    type: 'integer',
    min: 1024,
    default: 1073741824,
    description: 'Largest CSV file accepted by POST /v1/imports.',
  },
  worker: {
    env: 'HERALD_WORKER',
    type: 'boolean',
    default: true,
    description:
      'Run background jobs in the serving process. Set false when separate `herald worker` processes run them.',
  },
  jobConcurrency: {
    env: 'HERALD_JOB_CONCURRENCY',
    type: 'integer',
    min: 1,
    max: 64,
    default: 2,
    description: 'Jobs one process runs at the same time.',
  },
  jobPollIntervalMs: {
    env: 'HERALD_JOB_POLL_INTERVAL_MS',
    type: 'integer',
    min: 10,
    default: 1000,
    description: 'How often an idle worker looks for due jobs.',
  },
  jobLeaseMs: {
    env: 'HERALD_JOB_LEASE_MS',
    type: 'integer',
    min: 1000,
    default: 60000,
    description:
      'How long a worker holds a job it runs (renewed while it runs); the job of a worker that died runs again after it, as a message delivery with the same Message-ID.',
  },
  sendLeaseMs: {
    env: 'HERALD_SEND_LEASE_MS',
    type: 'integer',
    min: 1000,
    default: 120000,
    description:
      'How long a worker holds the campaign recipients and automation runs it claimed; recipients a crashed worker left unrecorded are re-sent (same Message-ID) after it, and its automation runs repeat the step in flight (the same message). Keep it well above the time one batch takes to send.',
  },
  dkimThreads: {
    env: 'HERALD_DKIM_THREADS',
    type: 'integer',
    min: 0,
    max: 16,
    description:
      'Worker threads that compute DKIM signatures, so the sending loop keeps its own core. Default: one less than the CPU cores (at least 1, at most 4); 0 signs on the main thread.',
  },
  attributionWindowHours: {
    env: 'HERALD_ATTRIBUTION_WINDOW_HOURS',
    type: 'integer',
    min: 1,
    max: 8760,
    default: 168,
    description:
      "How long after a click a conversion is attributed to it (POST /v1/conversions): to the click named by click_id, else to the contact's last human click within this window.",
  },
  analyticsIntervalMs: {
    env: 'HERALD_ANALYTICS_INTERVAL_MS',
    type: 'integer',
    min: 100,
    default: 2000,
    description:
      'How often a worker adds new tracking hits and send outcomes to the analytics rollups that reports read.',
  },
  analyticsSettleMs: {
    env: 'HERALD_ANALYTICS_SETTLE_MS',
    type: 'integer',
    min: 0,
    default: 5000,
    description:
      'Hits younger than this are left for the next rollup round, so hits still in a buffered writer are not skipped. Reports lag real time by about this plus the interval.',
  },
  trackingFlushIntervalMs: {
    env: 'HERALD_TRACKING_FLUSH_INTERVAL_MS',
    type: 'integer',
    min: 10,
    max: 60000,
    default: 500,
    description:
      'How often buffered open and click hits are written to the database (sooner when a batch is full).',
  },
  trackingBatchSize: {
    env: 'HERALD_TRACKING_BATCH_SIZE',
    type: 'integer',
    min: 1,
    max: 10000,
    default: 1000,
    description: 'Open and click hits written per insert.',
  },
  trackingMaxBufferedHits: {
    env: 'HERALD_TRACKING_MAX_BUFFERED_HITS',
    type: 'integer',
    min: 100,
    default: 200000,
    description:
      'Hits kept in memory while the database cannot be written; beyond this new hits are dropped and counted in herald_tracking_hits_dropped_total.',
  },
  trackingRateLimitPerMinute: {
    env: 'HERALD_TRACKING_RATE_LIMIT_PER_MINUTE',
    type: 'integer',
    min: 1,
    default: 120,
    description:
      'Requests per minute to one open-pixel or click token (per token, not per IP: image proxies fetch for many people from few addresses).',
  },
  formRateLimitPerIpPerHour: {
    env: 'HERALD_FORM_RATE_LIMIT_PER_IP_PER_HOUR',
    type: 'integer',
    min: 1,
    default: 20,
    description:
      'Hosted subscribe form submissions per hour from one IP address (per process); more get 429. Raise it when many people sign up from behind one address (an office, a fair).',
  },
  formRateLimitPerAddressPerHour: {
    env: 'HERALD_FORM_RATE_LIMIT_PER_ADDRESS_PER_HOUR',
    type: 'integer',
    min: 1,
    default: 3,
    description:
      'Hosted subscribe form submissions per hour for one email address (per process); more are accepted silently but do nothing, so a form cannot be used to flood someone with confirmation emails.',
  },
  eventRetentionDays: {
    env: 'HERALD_EVENT_RETENTION_DAYS',
    type: 'integer',
    min: 1,
    max: 36500,
    default: 730,
    description:
      'How long behavioural events are kept. Whole months are dropped once they are older than this; events with an older timestamp are refused at ingestion.',
  },
  eventDedupDays: {
    env: 'HERALD_EVENT_DEDUP_DAYS',
    type: 'integer',
    min: 1,
    max: 36500,
    default: 30,
    description:
      'How long an event messageId is remembered, so a retry within this time is stored once (Segment itself deduplicates within a day).',
  },
  eventsRateLimitPerMinute: {
    env: 'HERALD_EVENTS_RATE_LIMIT_PER_MINUTE',
    type: 'integer',
    min: 1,
    default: 12000,
    description:
      'Requests per minute per API key to each event ingestion route (/v1/track, /v1/identify, /v1/page, /v1/screen, /v1/batch), instead of HERALD_RATE_LIMIT_PER_MINUTE.',
  },
  shopWebhookRateLimitPerMinute: {
    env: 'HERALD_SHOP_WEBHOOK_RATE_LIMIT_PER_MINUTE',
    type: 'integer',
    min: 1,
    default: 1200,
    description:
      'Requests per minute per shop connection to its webhook URL (/hooks/shopify/..., /hooks/woocommerce/...); more get 429 and the shop retries later.',
  },
  snsCertUrlPattern: {
    env: 'HERALD_SNS_CERT_URL_PATTERN',
    type: 'string',
    description:
      "Regular expression a SigningCertURL must match before Herald fetches the certificate to check an Amazon SNS message. Default: Amazon's own hosts (https://sns.<region>.amazonaws.com/...pem). Change it only to test against a local certificate server.",
  },
  snsSubscribeUrlPattern: {
    env: 'HERALD_SNS_SUBSCRIBE_URL_PATTERN',
    type: 'string',
    description:
      "Regular expression a SubscribeURL must match before Herald confirms an SNS subscription by fetching it. Default: Amazon's own hosts (https://sns.<region>.amazonaws.com/). Change it only for tests.",
  },
  mailgunWebhookMaxAgeSeconds: {
    env: 'HERALD_MAILGUN_WEBHOOK_MAX_AGE_SECONDS',
    type: 'integer',
    min: 10,
    max: 86400,
    default: 300,
    description:
      'How far a Mailgun webhook timestamp may be from now; older (or future) requests are refused, and tokens are remembered this long to ignore replays.',
  },
  sendgridWebhookMaxAgeSeconds: {
    env: 'HERALD_SENDGRID_WEBHOOK_MAX_AGE_SECONDS',
    type: 'integer',
    min: 10,
    max: 86400,
    default: 300,
    description:
      'How far the signed timestamp of a SendGrid Event Webhook request (X-Twilio-Email-Event-Webhook-Timestamp) may be from now; older (or future) requests are refused, so a captured request cannot be replayed later.',
  },
  snsWebhookMaxAgeSeconds: {
    env: 'HERALD_SNS_WEBHOOK_MAX_AGE_SECONDS',
    type: 'integer',
    min: 60,
    max: 86400,
    default: 7200,
    description:
      "How far an Amazon SNS message's signed Timestamp (when it was published) may be from now; older (or future) messages are refused. SNS keeps the first Timestamp on its retries and retries an HTTPS endpoint for at most an hour, hence the default of two hours.",
  },
  eventsBatchMaxBytes: {
    env: 'HERALD_EVENTS_BATCH_MAX_BYTES',
    type: 'integer',
    min: 1024,
    default: 512000,
    description:
      'Largest /v1/batch body (Segment allows 500 KB); never more than HERALD_BODY_LIMIT_BYTES. A batch holds at most 500 events of at most 32 KB each.',
  },
  segmentRefreshIntervalMs: {
    env: 'HERALD_SEGMENT_REFRESH_INTERVAL_MS',
    type: 'integer',
    min: 1000,
    default: 60000,
    description:
      'How often a worker looks for contacts entering or leaving saved segments (contacts touched by new events or changes since the last look) and records segment.entered / segment.exited events.',
  },
  engagementRefreshIntervalMs: {
    env: 'HERALD_ENGAGEMENT_REFRESH_INTERVAL_MS',
    type: 'integer',
    min: 60000,
    default: 21600000,
    description:
      "How often a worker recomputes every contact's engagement score, open and click probabilities and best send hour (one job per period, a page of contacts at a time). Segment conditions on engagement and send-time optimization read the latest results.",
  },
  engagementTrainIntervalMs: {
    env: 'HERALD_ENGAGEMENT_TRAIN_INTERVAL_MS',
    type: 'integer',
    min: 60000,
    default: 86400000,
    description:
      "How often a worker retrains each workspace's engagement models (open and click) on its own history, then recomputes the contacts of workspaces that got a new model. A workspace with too little data keeps its previous model.",
  },
  imapPollIntervalMs: {
    env: 'HERALD_IMAP_POLL_INTERVAL_MS',
    type: 'integer',
    min: 1000,
    default: 60000,
    description:
      "How often a worker reads each workspace's bounce mailbox over IMAP (when enabled in /v1/deliverability/settings): reports are applied and moved to the processed folder, other messages to the unparsed folder. A mailbox that cannot be read is retried at the next poll.",
  },
  automationTriggerIntervalMs: {
    env: 'HERALD_AUTOMATION_TRIGGER_INTERVAL_MS',
    type: 'integer',
    min: 100,
    default: 5000,
    description:
      'How often a worker scans new events, contacts, consent records and opens/clicks for automation triggers, goals and wait_for events (each scan reads the last minute again; enrolment is idempotent), and checks schedule and date triggers (date triggers once per quarter hour).',
  },
  segmentFullRefreshMinutes: {
    env: 'HERALD_SEGMENT_FULL_REFRESH_MINUTES',
    type: 'integer',
    min: 1,
    default: 60,
    description:
      'How often each saved segment is evaluated in full and compared with its recorded members, which catches what the incremental check cannot see (time windows passing, send outcomes).',
  },
  dnsServers: {
    env: 'HERALD_DNS_SERVERS',
    type: 'string',
    description:
      'Comma-separated DNS servers (IP addresses, each optionally with :port, e.g. 127.0.0.1:5353) the sending-domain check resolves SPF, DKIM, DMARC, MX and PTR records through, and the list-hygiene MX check (when a workspace turns it on) resolves MX records through. Default: the system resolver.',
  },
  spfInclude: {
    env: 'HERALD_SPF_INCLUDE',
    type: 'string',
    description:
      "The SPF include of the servers that send for Herald (e.g. _spf.mailprovider.example, or your own relay's), suggested as include:<value> and required by the sending-domain check. Unset: the check suggests ip4:/ip6: of HERALD_SENDING_IP, or only checks that one SPF record exists.",
  },
  sendingIp: {
    env: 'HERALD_SENDING_IP',
    type: 'string',
    description:
      'The public IP address mail leaves from, when Herald (or its relay) sends directly: the sending-domain check looks up its PTR (reverse DNS, confirmed forward). Unset: the PTR check is skipped.',
  },
  bounceMxHost: {
    env: 'HERALD_BOUNCE_MX_HOST',
    type: 'string',
    description:
      "The mail server that receives bounces (Herald's VERP Return-Path is b-<token>@<From domain>): suggested as the MX record of the sending domain and checked by the sending-domain check. Unset: the check only requires an MX record.",
  },
  requireVerifiedDomains: {
    env: 'HERALD_REQUIRE_VERIFIED_DOMAINS',
    type: 'boolean',
    default: false,
    description:
      'When true, campaigns and messages may only be sent from a sending domain whose last check verified it (or one with allow_unverified). When false, only a sending domain whose last check failed is refused; domains never added or never checked send as before.',
  },
  cookieSecure: {
    env: 'HERALD_COOKIE_SECURE',
    type: 'boolean',
    description:
      'Marks the session cookie Secure (sent over HTTPS only). Default: true, unless HERALD_PUBLIC_URL starts with http://.',
  },
  sessionIdleMinutes: {
    env: 'HERALD_SESSION_IDLE_MINUTES',
    type: 'integer',
    min: 1,
    max: 43200,
    default: 120,
    description: 'A sign-in session ends after this many minutes without a request.',
  },
  sessionMaxHours: {
    env: 'HERALD_SESSION_MAX_HOURS',
    type: 'integer',
    min: 1,
    max: 8760,
    default: 24,
    description: 'A sign-in session ends this many hours after sign-in, however active.',
  },
  passwordMinLength: {
    env: 'HERALD_PASSWORD_MIN_LENGTH',
    type: 'integer',
    min: 8,
    max: 128,
    default: 12,
    description: 'Shortest password a user may set (characters).',
  },
  loginMaxFailures: {
    env: 'HERALD_LOGIN_MAX_FAILURES',
    type: 'integer',
    min: 1,
    max: 1000,
    default: 5,
    description:
      'Failed sign-ins (wrong password or second-factor code) in a row after which the account is locked.',
  },
  loginLockMinutes: {
    env: 'HERALD_LOGIN_LOCK_MINUTES',
    type: 'integer',
    min: 1,
    max: 10080,
    default: 15,
    description: 'How long a locked account stays locked.',
  },
  loginRateLimitPerMinute: {
    env: 'HERALD_LOGIN_RATE_LIMIT_PER_MINUTE',
    type: 'integer',
    min: 1,
    max: 100000,
    default: 20,
    description: 'Sign-in attempts (POST /v1/session) per minute per client IP address.',
  },
  invitationDays: {
    env: 'HERALD_INVITATION_DAYS',
    type: 'integer',
    min: 1,
    max: 90,
    default: 7,
    description: 'Days an invitation link stays valid.',
  },
  systemFromEmail: {
    env: 'HERALD_SYSTEM_FROM_EMAIL',
    type: 'string',
    description:
      "Sender address of the mail Herald sends on its own behalf (invitations to join a workspace), through the workspace's default transport. Default: herald@ the host of HERALD_PUBLIC_URL.",
  },
  oauthAccessTokenTtlSeconds: {
    env: 'HERALD_OAUTH_ACCESS_TOKEN_TTL_SECONDS',
    type: 'integer',
    min: 30,
    max: 86400,
    default: 900,
    description:
      "Lifetime of an OAuth access token from POST /oauth/token (client credentials grant), in seconds. A revoked client's tokens stop working at once regardless.",
  },
  oidcLoginTtlSeconds: {
    env: 'HERALD_OIDC_LOGIN_TTL_SECONDS',
    type: 'integer',
    min: 60,
    max: 3600,
    default: 600,
    description:
      'How long an OpenID Connect sign-in may take between the redirect to the identity provider and its callback, in seconds.',
  },
  webhooksAllowHttp: {
    env: 'HERALD_WEBHOOKS_ALLOW_HTTP',
    type: 'boolean',
    default: false,
    description: 'Allow outbound webhook endpoints with http:// URLs (otherwise https:// only).',
  },
  webhooksAllowPrivateNetworks: {
    env: 'HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS',
    type: 'boolean',
    default: false,
    description:
      'Allow outbound webhooks to hosts that resolve to private, loopback, link-local, unique-local, multicast or cloud metadata addresses. Off: such endpoints are refused at creation and at every delivery.',
  },
  webhooksTimeoutMs: {
    env: 'HERALD_WEBHOOKS_TIMEOUT_MS',
    type: 'integer',
    min: 100,
    max: 120000,
    default: 10000,
    description:
      'How long a webhook delivery waits for the complete answer before the attempt counts as failed.',
  },
  webhooksRetentionDays: {
    env: 'HERALD_WEBHOOKS_RETENTION_DAYS',
    type: 'integer',
    min: 1,
    max: 3650,
    default: 30,
    description:
      'Webhook events (and their delivery log) older than this many days are purged once no delivery is pending.',
  },
  webhooksBatchSize: {
    env: 'HERALD_WEBHOOKS_BATCH_SIZE',
    type: 'integer',
    min: 1,
    max: 1000,
    default: 20,
    description: 'Webhook deliveries one worker claims and sends at the same time.',
  },
  // CRM connectors (src/modules/crm)
  mailchimpBaseUrl: {
    env: 'HERALD_MAILCHIMP_BASE_URL',
    type: 'url',
    description:
      'Base URL of the Mailchimp Marketing API, instead of https://<dc>.api.mailchimp.com/3.0 taken from the API key (a proxy, or a local server in tests).',
  },
  hubspotBaseUrl: {
    env: 'HERALD_HUBSPOT_BASE_URL',
    type: 'url',
    description:
      'Base URL of the HubSpot API instead of https://api.hubapi.com (a proxy, or a local server in tests).',
  },
  mailchimpPageSize: {
    env: 'HERALD_MAILCHIMP_PAGE_SIZE',
    type: 'integer',
    min: 1,
    max: 1000,
    default: 1000,
    description:
      'Members per Mailchimp page (count) in imports and syncs; progress is stored after each page, so a run that stopped resumes at its next page.',
  },
  crmSyncIntervalMs: {
    env: 'HERALD_CRM_SYNC_INTERVAL_MS',
    type: 'integer',
    min: 10000,
    default: 900000,
    description:
      'How often a worker starts a sync of every enabled CRM connection that was imported once: Mailchimp members changed since the last run (since_last_changed).',
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
