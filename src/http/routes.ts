import type { FastifyInstance } from 'fastify';
import type { JobQueue } from '../jobs/index.js';
import type { Clock } from '../lib/clock.js';
import { type AnalyticsService, analyticsRoutes } from '../modules/analytics/index.js';
import { type AttributeService, attributesRoutes } from '../modules/attributes/index.js';
import { type AuditLog, auditRoutes } from '../modules/audit/index.js';
import { type ApiKeyService, authRoutes } from '../modules/auth/index.js';
import {
  type AutomationEngine,
  type AutomationReports,
  type AutomationService,
  type AutomationSimulator,
  automationsRoutes,
} from '../modules/automations/index.js';
import {
  type CampaignSender,
  type CampaignService,
  campaignsRoutes,
  type ExperimentService,
  experimentsRoutes,
} from '../modules/campaigns/index.js';
import { type ConfirmationService, confirmationsRoutes } from '../modules/confirmations/index.js';
import type { ConsentLedger } from '../modules/consent/index.js';
import { type ContactService, contactsRoutes } from '../modules/contacts/index.js';
import {
  type CrmMapping,
  type CrmService,
  crmRoutes,
  type MailgunEventsFetcher,
  type SendgridStatsFetcher,
} from '../modules/crm/index.js';
import {
  type DeliverabilityService,
  deliverabilityRoutes,
  type ImapPoller,
  type SunsetPolicy,
  sunsetRoutes,
  type WebhookIntake,
  webhookRoutes,
} from '../modules/deliverability/index.js';
import { type EngagementService, engagementRoutes } from '../modules/engagement/index.js';
import { type EventService, eventsRoutes } from '../modules/events/index.js';
import { type ExportService, exportsRoutes } from '../modules/exports/index.js';
import { type ImportService, importsRoutes } from '../modules/imports/index.js';
import { type ListService, listsRoutes } from '../modules/lists/index.js';
import { type MessageService, messagesRoutes } from '../modules/messages/index.js';
import {
  type OAuthClientService,
  type OidcProviderService,
  type OidcSignIn,
  oauthClientsRoutes,
  oidcRoutes,
} from '../modules/oauth/index.js';
import { type PrivacyService, privacyRoutes, type RetentionPolicy } from '../modules/privacy/index.js';
import { type PublicPagesService, publicPagesRoutes } from '../modules/public-pages/index.js';
import { type SegmentService, segmentsRoutes } from '../modules/segments/index.js';
import { type SendingDomainService, sendingDomainsRoutes } from '../modules/sending-domains/index.js';
import {
  type ShopService,
  type ShopWebhooks,
  shopsRoutes,
  shopWebhookRoutes,
} from '../modules/shops/index.js';
import { type TemplateService, templatesRoutes } from '../modules/templates/index.js';
import { type ThrottlingService, throttlingRoutes } from '../modules/throttling/index.js';
import {
  type Beacons,
  type TrackingService,
  trackingBeaconRoutes,
  trackingRoutes,
} from '../modules/tracking/index.js';
import { type TransportService, transportsRoutes } from '../modules/transports/index.js';
import { invitationPageRoutes, type UserService, usersRoutes } from '../modules/users/index.js';
import { type WebhookService, webhooksRoutes } from '../modules/webhooks/index.js';
import type { WorkspaceService } from '../modules/workspaces/index.js';
import { systemRoutes } from './system.routes.js';

/** Everything the routes need, built by src/main/container.ts. */
export interface RouteDeps {
  clock: Clock;
  jobs: JobQueue;
  checkReady: () => Promise<void>;
  apiKeys: ApiKeyService;
  workspaces: WorkspaceService;
  attributes: AttributeService;
  contacts: ContactService;
  campaigns: CampaignService;
  campaignSender: Pick<CampaignSender, 'sendTest'>;
  experiments: ExperimentService;
  consent: ConsentLedger;
  exports: ExportService;
  lists: ListService;
  imports: ImportService;
  templates: TemplateService;
  sendingDomains: SendingDomainService;
  transports: TransportService;
  messages: MessageService;
  confirmations: ConfirmationService;
  tracking: TrackingService;
  /** Requests per minute per open-pixel or click token. */
  trackingRateLimitPerMinute: number;
  publicPages: PublicPagesService;
  analytics: AnalyticsService;
  events: EventService;
  segments: SegmentService;
  engagement: EngagementService;
  automations: AutomationService;
  automationEngine: AutomationEngine;
  automationSimulator: AutomationSimulator;
  automationReports: AutomationReports;
  /** Requests per minute per API key to each event ingestion route. */
  eventsRateLimitPerMinute: number;
  /** Largest /v1/batch body. */
  eventsBatchMaxBytes: number;
  deliverability: DeliverabilityService;
  imapPoller: ImapPoller;
  webhookIntake: WebhookIntake;
  /** Largest provider webhook body. */
  webhookBodyLimit: number;
  throttling: ThrottlingService;
  sunset: SunsetPolicy;
  shops: ShopService;
  shopWebhooks: ShopWebhooks;
  /** Requests per minute per shop connection to its webhook URL. */
  shopWebhookRateLimitPerMinute: number;
  /** OAuth clients, the token endpoint, and the access tokens the auth plugin accepts. */
  oauthClients: OAuthClientService;
  /** OpenID Connect providers and the browser sign-in through them. */
  oidcProviders: OidcProviderService;
  oidcSignIn: OidcSignIn;
  users: UserService;
  /** Marks the session cookie Secure. */
  cookieSecure: boolean;
  /** Sign-in attempts per minute per client address. */
  loginRateLimitPerMinute: number;
  /** Origin of HERALD_PUBLIC_URL. */
  publicOrigin: string;
  /** The audit log: written by http/audit-trail.ts, read by the audit routes. */
  audit: AuditLog;
  privacy: PrivacyService;
  retention: RetentionPolicy;
  webhooks: WebhookService;
  crm: CrmService;
  crmMapping: CrmMapping;
  mailgunEvents: MailgunEventsFetcher;
  sendgridStats: SendgridStatsFetcher;
}

/**
 * The open pixel and click redirect, served by build-app.ts in a context of
 * their own, outside the API's hooks (see trackingBeaconRoutes).
 */
export async function registerBeaconRoutes(app: FastifyInstance, beacons: Beacons): Promise<void> {
  await app.register(trackingBeaconRoutes({ beacons }));
}

/** The route table: one line per module. Each route states its scope next to its handler. */
export async function registerRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  await app.register(systemRoutes({ checkReady: deps.checkReady }));
  await app.register(authRoutes({ apiKeys: deps.apiKeys, workspaces: deps.workspaces }));
  await app.register(attributesRoutes({ attributes: deps.attributes }));
  await app.register(
    contactsRoutes({ contacts: deps.contacts, consent: deps.consent, engagement: deps.engagement }),
  );
  await app.register(campaignsRoutes({ campaigns: deps.campaigns, sender: deps.campaignSender }));
  await app.register(experimentsRoutes({ experiments: deps.experiments, campaigns: deps.campaigns }));
  await app.register(exportsRoutes({ exports: deps.exports }));
  await app.register(listsRoutes({ lists: deps.lists }));
  await app.register(importsRoutes({ imports: deps.imports }));
  await app.register(templatesRoutes({ templates: deps.templates }));
  await app.register(transportsRoutes({ transports: deps.transports }));
  await app.register(sendingDomainsRoutes({ sendingDomains: deps.sendingDomains }));
  await app.register(messagesRoutes({ messages: deps.messages }));
  await app.register(confirmationsRoutes({ confirmations: deps.confirmations }));
  await app.register(trackingRoutes({ tracking: deps.tracking }));
  await app.register(publicPagesRoutes({ pages: deps.publicPages }));
  await app.register(analyticsRoutes({ analytics: deps.analytics }));
  await app.register(segmentsRoutes({ segments: deps.segments }));
  await app.register(engagementRoutes({ engagement: deps.engagement }));
  await app.register(
    automationsRoutes({
      automations: deps.automations,
      engine: deps.automationEngine,
      simulator: deps.automationSimulator,
      reports: deps.automationReports,
    }),
  );
  await app.register(
    eventsRoutes({
      events: deps.events,
      rateLimitPerMinute: deps.eventsRateLimitPerMinute,
      batchMaxBytes: deps.eventsBatchMaxBytes,
    }),
  );
  await app.register(
    deliverabilityRoutes({ deliverability: deps.deliverability, imapPoller: deps.imapPoller }),
  );
  await app.register(webhookRoutes({ intake: deps.webhookIntake, bodyLimit: deps.webhookBodyLimit }));
  await app.register(throttlingRoutes({ throttling: deps.throttling }));
  await app.register(sunsetRoutes({ sunset: deps.sunset }));
  await app.register(shopsRoutes({ shops: deps.shops }));
  await app.register(
    shopWebhookRoutes({
      webhooks: deps.shopWebhooks,
      bodyLimit: deps.webhookBodyLimit,
      rateLimitPerMinute: deps.shopWebhookRateLimitPerMinute,
    }),
  );
  await app.register(oauthClientsRoutes({ clients: deps.oauthClients }));
  await app.register(
    oidcRoutes({ providers: deps.oidcProviders, signIn: deps.oidcSignIn, secureCookies: deps.cookieSecure }),
  );
  await app.register(
    usersRoutes({
      users: deps.users,
      cookieSecure: deps.cookieSecure,
      publicOrigin: deps.publicOrigin,
      loginRateLimitPerMinute: deps.loginRateLimitPerMinute,
    }),
  );
  await app.register(
    invitationPageRoutes({
      users: deps.users,
      clock: deps.clock,
      publicOrigin: deps.publicOrigin,
      rateLimitPerMinute: deps.loginRateLimitPerMinute,
    }),
  );
  await app.register(auditRoutes({ audit: deps.audit }));
  await app.register(privacyRoutes({ privacy: deps.privacy, retention: deps.retention }));
  await app.register(webhooksRoutes({ webhooks: deps.webhooks }));
  await app.register(
    crmRoutes({
      crm: deps.crm,
      mapping: deps.crmMapping,
      mailgunEvents: deps.mailgunEvents,
      sendgridStats: deps.sendgridStats,
    }),
  );
}
