import { availableParallelism } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { type DatabaseHandle, migrate, openPglite, openPostgres, readMigrations } from '../db/index.js';
import { createJobQueue, createJobRunner, createJobScheduler, type JobRunner } from '../jobs/index.js';
import type { Clock } from '../lib/clock.js';
import { parseDnsServers } from '../lib/dns-servers.js';
import { sign } from '../lib/secret-keys.js';
import { createDkimSigningPool } from '../mail/dkim-pool.js';
import {
  createAnalyticsRollup,
  createAnalyticsService,
  formatAmount,
  readRollupState,
  restartLedgerCount,
} from '../modules/analytics/index.js';
import { createAttributeService } from '../modules/attributes/index.js';
import { createAuditLog } from '../modules/audit/index.js';
import { createApiKeyService } from '../modules/auth/index.js';
import {
  automationTasks,
  automationWebhookTasks,
  createAutomationEngine,
  createAutomationReports,
  createAutomationService,
  createAutomationSimulator,
  createTriggerScan,
  TRIGGERS_TASK,
} from '../modules/automations/index.js';
import {
  createCampaignSender,
  createCampaignService,
  createExperimentService,
  DECIDE_TASK,
  experimentTasks,
} from '../modules/campaigns/index.js';
import {
  confirmationTasks,
  createConfirmationService,
  enqueueConfirmations,
} from '../modules/confirmations/index.js';
import { createConsentLedger } from '../modules/consent/index.js';
import { createContactService, createMxCheck } from '../modules/contacts/index.js';
import {
  CRM_SYNC_TASK,
  createCrmMapping,
  createCrmService,
  createMailgunEventsFetcher,
  createSendgridStatsFetcher,
  crmTasks,
  realSleep,
  shareUnlessDoNotSell,
} from '../modules/crm/index.js';
import { createDataKeyService, type EncryptedValueSource } from '../modules/data-keys/index.js';
import {
  createDeliverabilityService,
  createImapPoller,
  createSunsetPolicy,
  createWebhookIntake,
  deliverabilityTasks,
  IMAP_POLL_TASK,
  SUNSET_TASK,
  sunsetTasks,
} from '../modules/deliverability/index.js';
import {
  createEngagementService,
  ENGAGEMENT_REFRESH_TASK,
  ENGAGEMENT_TRAIN_TASK,
  engagementTasks,
  predictedOpenBelow,
} from '../modules/engagement/index.js';
import { createEventService, eventTasks, MAINTAIN_TASK } from '../modules/events/index.js';
import { createExportService } from '../modules/exports/index.js';
import { createImportService, importTasks } from '../modules/imports/index.js';
import { createListService } from '../modules/lists/index.js';
import { createMessageService, messageTasks } from '../modules/messages/index.js';
import {
  createOAuthClientService,
  createOidcClient,
  createOidcProviderService,
  createOidcSignIn,
} from '../modules/oauth/index.js';
import {
  createPrivacyService,
  createRetentionPolicy,
  RETENTION_TASK,
  retentionTasks,
} from '../modules/privacy/index.js';
import { createPublicPagesService } from '../modules/public-pages/index.js';
import {
  createSegmentMembership,
  createSegmentService,
  REFRESH_TASK,
  segmentTasks,
} from '../modules/segments/index.js';
import { createDnsLookup, createSendingDomainService } from '../modules/sending-domains/index.js';
import { createShopService, createShopWebhooks } from '../modules/shops/index.js';
import { createTemplateCompiler, createTemplateService } from '../modules/templates/index.js';
import { createThrottlingService, PRUNE_TASK, throttlingTasks } from '../modules/throttling/index.js';
import {
  anonymizeIp,
  createTrackingService,
  ipAnonymizationOf,
  RECLASSIFY_TASK,
  trackingTasks,
} from '../modules/tracking/index.js';
import { createTransportService } from '../modules/transports/index.js';
import { createInvitationMailer, createUserService } from '../modules/users/index.js';
import {
  createWebhookDispatcher,
  createWebhookService,
  createWebhookSubscriptions,
  WEBHOOKS_PURGE_TASK,
  webhookTasks,
} from '../modules/webhooks/index.js';
import { createSendingPolicyCheck, createWorkspaceService } from '../modules/workspaces/index.js';
import { loadKeyring } from './keyring.js';
import { createOidcSessions } from './oidc-sessions.js';
import { createMailPort, createSendingPorts } from './sending-ports.js';
import { createViewRenderer } from './view-renderer.js';

/** How long after a campaign finished sending its tracking hits are classified again, all together. */
const RECLASSIFY_AFTER_MS = 60 * 60 * 1000;

/** One signing thread per core beyond the sending loop's own, between 1 and 4. */
function defaultSigningThreads(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

/**
 * GET for the SNS webhook (signing certificates, subscription confirmations):
 * bounded in time and size, redirects not followed, so a URL that passed the
 * host check cannot lead elsewhere.
 */
async function fetchTextOnce(url: string): Promise<string> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${new URL(url).host} answered ${response.status}`);
  const text = await response.text();
  if (text.length > 100_000) throw new Error('response too large');
  return text;
}

function urlPattern(name: string, pattern: string | undefined): RegExp | undefined {
  if (pattern === undefined) return undefined;
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new Error(`${name} is not a valid regular expression: ${(error as Error).message}`);
  }
}

/** Opens the database the configuration names: PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'databasePoolSize' | 'dataDir'>) {
  if (config.databaseUrl) return openPostgres({ url: config.databaseUrl, poolSize: config.databasePoolSize });
  return openPglite({ dataDir: config.dataDir });
}

export interface ContainerOptions {
  config: Config;
  database: DatabaseHandle;
  logger: Logger;
  clock: Clock;
}

/**
 * The only place that builds objects and hands them their dependencies. Every
 * process (API, worker, CLI, tests) gets its services from here.
 */
/** The settings of users, sessions and invitations, from the configuration. */
export function userSettings(config: Config) {
  return {
    publicUrl: config.publicUrl,
    cookieSecure: config.cookieSecure,
    sessionIdleMinutes: config.sessionIdleMinutes,
    sessionMaxHours: config.sessionMaxHours,
    passwordMinLength: config.passwordMinLength,
    loginMaxFailures: config.loginMaxFailures,
    loginLockMinutes: config.loginLockMinutes,
    invitationDays: config.invitationDays,
  };
}

export function createContainer(options: ContainerOptions) {
  const { config, database, logger, clock } = options;
  const db = database.db;
  const { keyring, source: keySource } = loadKeyring(config);
  if (keySource === 'created' && config.databaseUrl) {
    logger.warn(
      'created a secret key in the data folder; set HERALD_SECRET_KEYS when several processes share the database',
    );
  }
  let runner: JobRunner | undefined;
  // Per-workspace data keys, wrapped under the keyring; field encryption goes through dataKeys.cipher.
  const dataKeys = createDataKeyService({ db, clock, keyring });

  const jobs = createJobQueue({ db, clock, onEnqueued: () => runner?.wake() });
  // Outbound webhooks: the hot paths (campaign sends, tracking hits) ask the cached subscriptions first.
  const webhookSubscriptions = createWebhookSubscriptions({ db, clock, ttlMs: 5_000 });
  const webhooks = createWebhookService({
    db,
    clock,
    cipher: dataKeys.cipher,
    allowHttp: config.webhooksAllowHttp,
    allowPrivate: config.webhooksAllowPrivateNetworks,
    timeoutMs: config.webhooksTimeoutMs,
    retentionDays: config.webhooksRetentionDays,
    onEndpointsChanged: (workspaceId) => webhookSubscriptions.invalidate(workspaceId),
  });
  const webhookDispatcher = createWebhookDispatcher({
    db,
    clock,
    logger: logger.child({ component: 'webhooks' }),
    cipher: dataKeys.cipher,
    timeoutMs: config.webhooksTimeoutMs,
    allowPrivate: config.webhooksAllowPrivateNetworks,
    batchSize: config.webhooksBatchSize,
  });
  const apiKeys = createApiKeyService({ db, clock });
  const oauthClients = createOAuthClientService({
    db,
    clock,
    keyring,
    issuer: config.publicUrl,
    accessTokenTtlSeconds: config.oauthAccessTokenTtlSeconds,
  });
  const audit = createAuditLog({ db, clock });
  const workspaceService = createWorkspaceService({ db, clock });
  const workspaces = {
    ...workspaceService,
    /** First start: the default workspace and its admin key, whose creation is the log's first entry. */
    async bootstrap() {
      const created = await workspaceService.bootstrap();
      if (created) {
        await audit.record({
          workspaceId: created.workspace.id,
          actor: { type: 'system', id: null },
          action: 'api_key.create',
          target: { type: 'api_key', id: created.adminKey.id },
          details: { bootstrap: true, scopes: created.adminKey.scopes },
        });
      }
      return created;
    },
  };
  const consent = createConsentLedger({
    db,
    clock,
    // Consent records store the IP as the workspace's IP anonymization says, like opens and clicks.
    ipPolicy: async (trx, workspaceId) => {
      const mode = await ipAnonymizationOf(trx, workspaceId);
      return (ip) => anonymizeIp(ip, mode);
    },
  });
  const attributes = createAttributeService({ db, clock, cipher: dataKeys.cipher });
  // One resolver and its cache per process; it only resolves for workspaces with hygiene mx_check on.
  const mx = createMxCheck({ servers: parseDnsServers(config.dnsServers) });
  // Erasure and access requests; also the check that keeps erased addresses from coming back.
  const privacy = createPrivacyService({ db, clock, keyring, attributes });
  const contacts = createContactService({ db, clock, attributes, consent, mx, erased: privacy });
  const retention = createRetentionPolicy({ db, clock, logger: logger.child({ component: 'retention' }) });
  // Bound late: the sender is built after the services it sends through.
  let guardrails: ((workspaceId: string, campaignId: string) => Promise<unknown>) | undefined;
  const deliverability = createDeliverabilityService({
    db,
    clock,
    keyring,
    cipher: dataKeys.cipher,
    contacts,
    consent,
    // A failed re-check must not fail the report's intake: the next batch checks again.
    onCampaignReport: (workspaceId, campaignId) =>
      (guardrails?.(workspaceId, campaignId) ?? Promise.resolve()).catch((error: Error) =>
        logger.error({ campaign_id: campaignId, err: error.message }, 'guardrail check failed'),
      ),
    // Mail to List-Unsubscribe mailto addresses: the public pages' one-click unsubscribe (built below).
    unsubscribes: { unsubscribeRecipient: (input) => publicPages.unsubscribeRecipient(input) },
  });
  const imapPoller = createImapPoller({ deliverability, logger: logger.child({ component: 'imap' }) });
  const lists = createListService({
    db,
    clock,
    contacts,
    consent,
    onUnconfirmedSubscribed: (trx, workspaceId, listId, contactIds) =>
      enqueueConfirmations(jobs, trx, workspaceId, listId, contactIds),
  });
  const signing = createDkimSigningPool({ threads: config.dkimThreads ?? defaultSigningThreads() });
  const sendingDomains = createSendingDomainService({
    db,
    clock,
    cipher: dataKeys.cipher,
    signing,
    dns: createDnsLookup(parseDnsServers(config.dnsServers)),
    authentication: {
      spfInclude: config.spfInclude,
      sendingIp: config.sendingIp,
      bounceMxHost: config.bounceMxHost,
    },
    requireVerified: config.requireVerifiedDomains,
  });
  const templateCompiler = createTemplateCompiler();
  const templates = createTemplateService({ db, clock, compiler: templateCompiler, contacts, workspaces });
  const transports = createTransportService({ db, clock, cipher: dataKeys.cipher, dataDir: config.dataDir });
  const throttling = createThrottlingService({
    db,
    clock,
    logger: logger.child({ component: 'throttling' }),
    workspaces,
    transports,
    sendingDomains,
  });
  const mailPort = createMailPort({
    keyring,
    publicUrl: config.publicUrl,
    clock,
    logger: logger.child({ component: 'mail' }),
    sendingDomains,
    transports,
    throttle: throttling,
  });
  const users = createUserService({
    db,
    clock,
    keyring,
    workspaces,
    mailer: createInvitationMailer({
      mail: mailPort,
      fromEmail: config.systemFromEmail,
      clock,
      logger: logger.child({ component: 'invitations' }),
    }),
    settings: userSettings(config),
  });
  const oidcProviders = createOidcProviderService({
    db,
    clock,
    cipher: dataKeys.cipher,
    publicUrl: config.publicUrl,
  });
  const oidcSignIn = createOidcSignIn({
    db,
    clock,
    providers: oidcProviders,
    client: createOidcClient({ clock }),
    sessions: createOidcSessions(users),
    publicUrl: config.publicUrl,
    loginTtlSeconds: config.oidcLoginTtlSeconds,
  });
  const sunset = createSunsetPolicy({
    db,
    clock,
    logger: logger.child({ component: 'sunset' }),
    prediction: predictedOpenBelow,
  });
  const analytics = createAnalyticsService({
    db,
    clock,
    attributionWindowHours: config.attributionWindowHours,
  });
  const analyticsRollup = createAnalyticsRollup({
    db,
    clock,
    logger: logger.child({ component: 'analytics' }),
    settleMs: config.analyticsSettleMs,
    // The embedded database has one connection: small batches keep API requests from waiting behind a rollup.
    batchSize: database.kind === 'pglite' ? 5_000 : 50_000,
    ledgerBatchSize: database.kind === 'pglite' ? 10_000 : 50_000,
  });
  const campaigns = createCampaignService({
    db,
    clock,
    templates,
    senderDomains: sendingDomains,
    guardrailDefaults: (workspaceId) => deliverability.guardrailDefaults(workspaceId),
    postalAddress: workspaces,
  });
  const experiments = createExperimentService({
    db,
    clock,
    logger: logger.child({ component: 'experiments' }),
    countedUntil: async () => (await readRollupState(db))?.caught_up_to ?? null,
    restartLedgerCount,
    holdoutWindowHours: config.attributionWindowHours,
    formatAmount,
  });
  const segments = createSegmentService({ db, clock, attributes });
  const engagement = createEngagementService({
    db,
    clock,
    logger: logger.child({ component: 'engagement' }),
  });
  const exports = createExportService({ contacts, clock, engagement });
  const automations = createAutomationService({ db, clock, attributes });
  const automationReports = createAutomationReports({
    db,
    clock,
    holdoutWindowHours: config.attributionWindowHours,
  });
  const segmentMembership = createSegmentMembership({
    db,
    clock,
    logger: logger.child({ component: 'segments' }),
    fullEveryMs: config.segmentFullRefreshMinutes * 60_000,
  });
  const events = createEventService({
    db,
    clock,
    contacts,
    retentionDays: config.eventRetentionDays,
    dedupDays: config.eventDedupDays,
    // context.ip is stored as the workspace's IP anonymization says, like opens and clicks (tracking is built below).
    ipAnonymizer: async (workspaceId) => {
      const { ip_anonymization: mode } = await tracking.settings(workspaceId);
      return (ip) => anonymizeIp(ip, mode);
    },
  });

  // Shop connectors: Shopify and WooCommerce webhooks -> contacts, events, conversions.
  const shops = createShopService({ db, clock, cipher: dataKeys.cipher, lists, publicUrl: config.publicUrl });
  const shopWebhooks = createShopWebhooks({
    db,
    clock,
    cipher: dataKeys.cipher,
    contacts,
    attributes,
    lists,
    events,
    analytics,
  });

  const imports = createImportService({
    db,
    database,
    clock,
    jobs,
    attributes,
    hygienePolicy: (workspaceId) => contacts.hygienePolicy(workspaceId),
    mx,
    erasedMatcher: (workspaceId) => privacy.erasedMatcher(workspaceId),
    maxBytes: config.importMaxBytes,
    onUnconfirmedSubscribed: (trx, workspaceId, listId, contactIds) =>
      enqueueConfirmations(jobs, trx, workspaceId, listId, contactIds),
  });

  const tracking = createTrackingService({
    db,
    keyring,
    clock,
    logger: logger.child({ component: 'tracking' }),
    publicUrl: config.publicUrl,
    templates,
    flushIntervalMs: config.trackingFlushIntervalMs,
    batchSize: config.trackingBatchSize,
    maxBuffered: config.trackingMaxBufferedHits,
    webhooks: webhookSubscriptions,
  });
  const messages = createMessageService({
    db,
    clock,
    jobs,
    contacts,
    attributes,
    templates,
    compiler: templateCompiler,
    workspaces,
    mail: mailPort,
    senderDomains: sendingDomains,
    tracking,
    suppressions: deliverability,
    onRefused: (workspaceId, refused) => deliverability.recordRefusals(workspaceId, refused),
  });
  // One secret per workspace, derived from the current secret key: rotating the keyring rotates it.
  const webhookSecretFor = (workspaceId: string) =>
    `whsec_${sign(keyring, 'automation-webhook-secret', workspaceId).toString('hex')}`;
  const sendingPolicy = createSendingPolicyCheck({ db, workspaces });
  const webhookIntake = createWebhookIntake({
    deliverability,
    clock,
    fetchText: fetchTextOnce,
    snsCertUrl: urlPattern('HERALD_SNS_CERT_URL_PATTERN', config.snsCertUrlPattern),
    snsSubscribeUrl: urlPattern('HERALD_SNS_SUBSCRIBE_URL_PATTERN', config.snsSubscribeUrlPattern),
    mailgunMaxAgeMs: config.mailgunWebhookMaxAgeSeconds * 1000,
    sendgridMaxAgeMs: config.sendgridWebhookMaxAgeSeconds * 1000,
    snsMaxAgeMs: config.snsWebhookMaxAgeSeconds * 1000,
  });
  const automationEngine = createAutomationEngine({
    db,
    clock,
    logger: logger.child({ component: 'automations' }),
    contacts,
    lists,
    messages,
    jobs,
    webhookSecretFor,
    sendingPolicy,
    throttle: throttling,
    workspaces,
    leaseMs: config.sendLeaseMs,
  });
  const automationSimulator = createAutomationSimulator({ db, clock, contacts, workspaces });
  const automationTriggers = createTriggerScan({
    db,
    clock,
    logger: logger.child({ component: 'automations' }),
    engine: automationEngine,
    segments,
    workspaces,
  });
  const confirmations = createConfirmationService({
    keyring,
    publicUrl: config.publicUrl,
    clock,
    logger: logger.child({ component: 'confirmations' }),
    lists,
    contacts,
    templates,
    compiler: templateCompiler,
    workspaces,
    mail: mailPort,
    suppressions: deliverability,
  });

  const publicPages = createPublicPagesService({
    keyring,
    clock,
    formPerIpPerHour: config.formRateLimitPerIpPerHour,
    formPerEmailPerHour: config.formRateLimitPerAddressPerHour,
    publicUrl: config.publicUrl,
    lists,
    contacts,
    campaigns,
    consent,
    workspaces,
    view: createViewRenderer({
      keyring,
      publicUrl: config.publicUrl,
      campaigns,
      contacts,
      lists,
      templates,
      workspaces,
    }),
  });

  const crm = createCrmService({
    db,
    clock,
    cipher: dataKeys.cipher,
    logger: logger.child({ component: 'crm' }),
    jobs,
    contacts,
    lists,
    attributes,
    suppressions: deliverability,
    mailchimp: { baseUrl: config.mailchimpBaseUrl, pageSize: config.mailchimpPageSize },
    hubspot: { baseUrl: config.hubspotBaseUrl },
    mayShare: shareUnlessDoNotSell,
    sleep: realSleep,
  });
  const crmMapping = createCrmMapping({ db, clock, attributes, contacts });
  const mailgunEvents = createMailgunEventsFetcher({ clock, sleep: realSleep, transports, deliverability });
  const sendgridStats = createSendgridStatsFetcher({ clock, sleep: realSleep, transports });

  const tasks = {
    ...importTasks({ imports }),
    ...trackingTasks({ tracking }),
    ...messageTasks({ messages }),
    ...confirmationTasks({ confirmations }),
    ...eventTasks({ events }),
    ...segmentTasks({ membership: segmentMembership }),
    ...automationTasks({ triggers: automationTriggers }),
    ...automationWebhookTasks({ clock, secretFor: webhookSecretFor }),
    ...deliverabilityTasks({ imapPoller }),
    ...experimentTasks({ experiments }),
    ...throttlingTasks({ throttling }),
    ...sunsetTasks({ sunset }),
    ...retentionTasks({ retention }),
    ...engagementTasks({ engagement }),
    ...webhookTasks({ webhooks }),
    ...crmTasks({ crm }),
  };
  runner = createJobRunner({
    db,
    clock,
    logger: logger.child({ component: 'jobs' }),
    tasks,
    concurrency: config.jobConcurrency,
    pollIntervalMs: config.jobPollIntervalMs,
    leaseMs: config.jobLeaseMs,
  });

  const scheduler = createJobScheduler({
    jobs,
    clock,
    logger: logger.child({ component: 'scheduler' }),
    schedules: [
      { task: MAINTAIN_TASK, everyMs: 3_600_000 },
      { task: REFRESH_TASK, everyMs: config.segmentRefreshIntervalMs },
      { task: TRIGGERS_TASK, everyMs: config.automationTriggerIntervalMs },
      { task: IMAP_POLL_TASK, everyMs: config.imapPollIntervalMs },
      { task: DECIDE_TASK, everyMs: 30_000 },
      { task: PRUNE_TASK, everyMs: 3_600_000 },
      { task: SUNSET_TASK, everyMs: 86_400_000 },
      { task: RETENTION_TASK, everyMs: 3_600_000 },
      { task: ENGAGEMENT_REFRESH_TASK, everyMs: config.engagementRefreshIntervalMs },
      { task: ENGAGEMENT_TRAIN_TASK, everyMs: config.engagementTrainIntervalMs },
      { task: WEBHOOKS_PURGE_TASK, everyMs: 3_600_000 },
      { task: CRM_SYNC_TASK, everyMs: config.crmSyncIntervalMs },
    ],
  });

  const sendingPorts = createSendingPorts({
    keyring,
    publicUrl: config.publicUrl,
    clock,
    logger: logger.child({ component: 'sender' }),
    templates,
    lists,
    segments,
    workspaces,
    sendingDomains,
    transports,
    tracking,
    attributes,
  });
  // Scanner bursts and prefetches can span workers, each of which classified only the hits it saw:
  // once most of a campaign's early machine traffic is in, classify all its stored hits together.
  const afterCampaignSent = async (campaign: { id: string; workspace_id: string }) => {
    await jobs.enqueue(
      RECLASSIFY_TASK,
      { workspaceId: campaign.workspace_id, campaignId: campaign.id },
      {
        workspaceId: campaign.workspace_id,
        runAt: new Date(clock.now().getTime() + RECLASSIFY_AFTER_MS),
        idempotencyKey: `${campaign.id}:after-send`,
      },
    );
  };
  const sender = createCampaignSender({
    db,
    clock,
    logger: logger.child({ component: 'sender' }),
    campaigns,
    workerId: runner.workerId,
    ports: sendingPorts,
    sendingPolicy,
    throttle: throttling.forCampaigns,
    sendTimes: engagement,
    leaseMs: config.sendLeaseMs,
    onFinished: afterCampaignSent,
    webhooks: webhookSubscriptions,
    onRefused: (workspaceId, refused) => deliverability.recordRefusals(workspaceId, refused),
    bounceCounts: (workspaceId, campaignId) => deliverability.campaignBounceCounts(workspaceId, campaignId),
  });
  guardrails = (workspaceId, campaignId) => sender.checkGuardrails(workspaceId, campaignId);

  const expectedMigrations = readMigrations().length;
  async function checkReady(): Promise<void> {
    const result = await sql<{ n: string }>`SELECT count(*) AS n FROM schema_migrations`.execute(db);
    if (Number(result.rows[0]?.n) < expectedMigrations) throw new Error('database is not fully migrated');
  }

  return {
    config,
    keyring,
    database,
    db,
    logger,
    clock,
    jobs,
    runner,
    scheduler,
    sender,
    sendingPorts,
    /** What every sender does once a campaign is sent; for senders built outside the container (tests). */
    afterCampaignSent,
    /** Starts background work in this process: jobs, campaign sending and automation runs. */
    startWorkers() {
      runner?.start();
      scheduler.start();
      sender.start(config.jobPollIntervalMs);
      automationEngine.start(config.jobPollIntervalMs);
      analyticsRollup.start(config.analyticsIntervalMs);
      webhookDispatcher.start(config.jobPollIntervalMs);
    },
    apiKeys,
    oauthClients,
    oidcProviders,
    oidcSignIn,
    workspaces,
    consent,
    attributes,
    contacts,
    lists,
    exports,
    imports,
    templateCompiler,
    templates,
    campaigns,
    experiments,
    sendingDomains,
    transports,
    messages,
    confirmations,
    publicPages,
    tracking,
    analytics,
    analyticsRollup,
    events,
    segments,
    segmentMembership,
    engagement,
    automations,
    automationEngine,
    automationReports,
    automationTriggers,
    imapPoller,
    throttling,
    sunset,
    users,
    dataKeys,
    /** Every kind of value encrypted with workspace data keys, for `herald keys rotate-data`. */
    encryptedValueSources: [
      sendingDomains.encryptedValues,
      transports.encryptedValues,
      deliverability.encryptedValues,
      attributes.encryptedValues,
      webhooks.encryptedValues,
      shops.encryptedValues,
      crm.encryptedValues,
      oidcProviders.encryptedValues,
    ] satisfies EncryptedValueSource[] as EncryptedValueSource[],
    audit,
    privacy,
    retention,
    webhooks,
    webhookDispatcher,
    webhookSubscriptions,
    crm,
    crmMapping,
    mailgunEvents,
    routeDeps: {
      clock,
      jobs,
      checkReady,
      apiKeys,
      workspaces,
      attributes,
      contacts,
      consent,
      exports,
      lists,
      imports,
      templates,
      campaigns,
      campaignSender: sender,
      experiments,
      sendingDomains,
      transports,
      messages,
      confirmations,
      publicPages,
      tracking,
      trackingRateLimitPerMinute: config.trackingRateLimitPerMinute,
      analytics,
      events,
      segments,
      engagement,
      automations,
      automationEngine,
      automationSimulator,
      automationReports,
      eventsRateLimitPerMinute: config.eventsRateLimitPerMinute,
      eventsBatchMaxBytes: Math.min(config.eventsBatchMaxBytes, config.bodyLimitBytes),
      deliverability,
      imapPoller,
      webhookIntake,
      webhookBodyLimit: config.bodyLimitBytes,
      throttling,
      sunset,
      shops,
      shopWebhooks,
      shopWebhookRateLimitPerMinute: config.shopWebhookRateLimitPerMinute,
      oauthClients,
      oidcProviders,
      oidcSignIn,
      users,
      cookieSecure: config.cookieSecure,
      loginRateLimitPerMinute: config.loginRateLimitPerMinute,
      publicOrigin: new URL(config.publicUrl).origin,
      audit,
      privacy,
      retention,
      webhooks,
      crm,
      crmMapping,
      mailgunEvents,
      sendgridStats,
    },
    migrate: () => migrate(db),
    async close(): Promise<void> {
      scheduler.stop();
      await sender.stop();
      await automationEngine.stop();
      await analyticsRollup.stop();
      await webhookDispatcher.stop();
      await runner?.stop();
      await transports.closeAll();
      // Buffered opens and clicks are written before the database closes (the HTTP server closed first).
      await tracking
        .close()
        .catch((error: Error) =>
          logger.error(
            { err: error.message, lost: tracking.stats().dropped },
            'tracking hits could not be written',
          ),
        );
      await signing.close();
      await database.close();
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
