import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Row types of every table, matching migrations/. Kept by hand next to the SQL that defines them. */
export interface Database {
  workspaces: WorkspaceTable;
  api_keys: ApiKeyTable;
  attribute_definitions: AttributeDefinitionTable;
  contacts: ContactTable;
  lists: ListTable;
  list_memberships: ListMembershipTable;
  consent_records: ConsentRecordTable;
  jobs: JobTable;
  imports: ImportTable;
  import_chunks: ImportChunkTable;
  import_errors: ImportErrorTable;
  import_warnings: ImportWarningTable;
  schema_migrations: SchemaMigrationTable;
  transports: TransportTable;
  sending_domains: SendingDomainTable;
  campaigns: CampaignTable;
  templates: TemplateTable;
  template_versions: TemplateVersionTable;
  snippets: SnippetTable;
  campaign_lists: CampaignListTable;
  campaign_sends: CampaignSendTable;
  messages: MessageTable;
  template_links: TemplateLinkTable;
  tracking_hits: TrackingHitTable;
  analytics_dirty: AnalyticsDirtyTable;
  conversions: ConversionTable;
  analytics_conversions: AnalyticsConversionTable;
  analytics_state: AnalyticsStateTable;
  analytics_campaigns: AnalyticsCampaignTable;
  analytics_hourly: AnalyticsHourlyTable;
  analytics_providers: AnalyticsProviderTable;
  analytics_links: AnalyticsLinkTable;
  analytics_recipients: AnalyticsRecipientTable;
  analytics_link_recipients: AnalyticsLinkRecipientTable;
  events: EventTable;
  event_message_ids: EventMessageIdTable;
  anonymous_ids: AnonymousIdTable;
  segments: SegmentTable;
  segment_members: SegmentMemberTable;
  segment_watermarks: SegmentWatermarkTable;
  campaign_segments: CampaignSegmentTable;
  automations: AutomationTable;
  automation_versions: AutomationVersionTable;
  automation_runs: AutomationRunTable;
  automation_step_executions: AutomationStepExecutionTable;
  automation_trigger_watermarks: AutomationTriggerWatermarkTable;
  automation_schedules: AutomationScheduleTable;
  bounce_events: BounceEventTable;
  suppressions: SuppressionTable;
  suppression_removals: SuppressionRemovalTable;
  deliverability_settings: DeliverabilitySettingsTable;
  webhook_replay_tokens: WebhookReplayTokenTable;
  campaign_ab_tests: CampaignAbTestTable;
  campaign_variants: CampaignVariantTable;
  throttle_rules: ThrottleRuleTable;
  warmup_schedules: WarmupScheduleTable;
  throttle_counters: ThrottleCounterTable;
  sunset_settings: SunsetSettingsTable;
  contact_engagement: ContactEngagementTable;
  engagement_models: EngagementModelTable;
  workspace_engagement: WorkspaceEngagementTable;
  oauth_clients: OAuthClientTable;
  oidc_providers: OidcProviderTable;
  oidc_logins: OidcLoginTable;
  users: UserTable;
  memberships: MembershipTable;
  sessions: SessionTable;
  invitations: InvitationTable;
  data_keys: DataKeyTable;
  shop_connections: ShopConnectionTable;
  shop_webhook_deliveries: ShopWebhookDeliveryTable;
  shop_customers: ShopCustomerTable;
  shop_orders: ShopOrderTable;
  shop_refunds: ShopRefundTable;
  audit_log: AuditLogTable;
  audit_chain_heads: AuditChainHeadTable;
  privacy_erasures: PrivacyErasureTable;
  privacy_retention: PrivacyRetentionTable;
  webhook_endpoints: WebhookEndpointTable;
  webhook_events: WebhookEventTable;
  webhook_deliveries: WebhookDeliveryTable;
  crm_connections: CrmConnectionTable;
  crm_sync_runs: CrmSyncRunTable;
  crm_field_mappings: CrmFieldMappingTable;
  crm_tag_memberships: CrmTagMembershipTable;
}

type Timestamp = ColumnType<Date, Date, Date>;
type Json = unknown;
type JsonColumn<T = Json> = ColumnType<T, string, string>;

export interface SchemaMigrationTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: Timestamp;
}

export interface WorkspaceTable {
  id: string;
  name: string;
  created_at: Timestamp;
  /** What is stored of a tracking hit's IP address (0008). */
  ip_anonymization: ColumnType<IpAnonymization, IpAnonymization | undefined, IpAnonymization>;
  /** IANA time zone of schedules and of contacts without one (0017). */
  timezone: ColumnType<string, string | undefined, string>;
  /** Frequency caps on marketing email per contact; null: none (0017). */
  max_marketing_per_day: ColumnType<number | null, number | null | undefined, number | null>;
  max_marketing_per_week: ColumnType<number | null, number | null | undefined, number | null>;
  /** Quiet hours as local minutes from midnight; null: none (0017). */
  quiet_hours_start: ColumnType<number | null, number | null | undefined, number | null>;
  quiet_hours_end: ColumnType<number | null, number | null | undefined, number | null>;
  /** List hygiene policy (0024): what a role address, a likely typo, a disposable domain does. */
  hygiene_role_accounts: ColumnType<'warn' | 'off', 'warn' | 'off' | undefined, 'warn' | 'off'>;
  hygiene_typos: ColumnType<'warn' | 'off', 'warn' | 'off' | undefined, 'warn' | 'off'>;
  hygiene_disposable: ColumnType<
    'reject' | 'warn' | 'off',
    'reject' | 'warn' | 'off' | undefined,
    'reject' | 'warn' | 'off'
  >;
  hygiene_mx_check: ColumnType<boolean, boolean | undefined, boolean>;
  /** CAN-SPAM postal address shown in marketing email; null: none (0040). */
  postal_address: ColumnType<string | null, string | null | undefined, string | null>;
  /** Refuse to send or schedule campaigns while postal_address is null (0040). */
  require_postal_address: ColumnType<boolean, boolean | undefined, boolean>;
}

export type IpAnonymization = 'none' | 'truncate' | 'drop';

export interface ApiKeyTable {
  id: string;
  workspace_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  scopes: string[];
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export type AttributeType = 'string' | 'number' | 'boolean' | 'date' | 'json';

export interface AttributeDefinitionTable {
  workspace_id: string;
  name: string;
  type: AttributeType;
  description: string | null;
  /** Values stored encrypted with the workspace data key (migration 0041). */
  sensitive: boolean;
  created_at: Timestamp;
}

export type ContactStatus = 'active' | 'unsubscribed' | 'bounced' | 'complained' | 'blocked';

export interface ContactTable {
  id: string;
  workspace_id: string;
  email: string;
  email_key: ColumnType<string, never, never>;
  external_id: string | null;
  status: ColumnType<ContactStatus, ContactStatus | undefined, ContactStatus>;
  attributes: JsonColumn<Record<string, unknown>>;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  timezone: string | null;
  locale: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** false: no open pixel and no rewritten links in this contact's messages (0008). */
  tracking_consent: ColumnType<boolean, boolean | undefined, boolean>;
  /** CCPA do not sell or share (0034): left out of exports for third parties. */
  do_not_sell: ColumnType<boolean, boolean | undefined, boolean>;
}

export interface ListTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  opt_in: 'single' | 'double';
  visibility: 'public' | 'private';
  created_at: Timestamp;
  updated_at: Timestamp;
  confirmation_template_id: ColumnType<string | null, string | null | undefined, string | null>;
  confirmation_from_email: ColumnType<string | null, string | null | undefined, string | null>;
}

export type MembershipStatus = 'unconfirmed' | 'confirmed' | 'unsubscribed';

export interface ListMembershipTable {
  workspace_id: string;
  list_id: string;
  contact_id: string;
  status: MembershipStatus;
  created_at: Timestamp;
  updated_at: Timestamp;
  confirmed_at: Timestamp | null;
  unsubscribed_at: Timestamp | null;
}

/** 'do_not_sell' (0034): the CCPA flag set or cleared; detail.do_not_sell says which. */
export type ConsentAction = 'subscribe' | 'confirm' | 'unsubscribe' | 'status_change' | 'do_not_sell';
/** 'gpc' (0034): a Global Privacy Control signal (Sec-GPC: 1) on a public page. */
export type ConsentSource = 'api' | 'import' | 'form' | 'cli' | 'system' | 'gpc';

export interface ConsentRecordTable {
  id: string;
  workspace_id: string;
  contact_id: string;
  list_id: string | null;
  purpose: string | null;
  action: ConsentAction;
  source: ConsentSource;
  source_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: JsonColumn<Record<string, unknown> | null> | null;
  created_at: Timestamp;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface JobTable {
  id: Generated<string>;
  workspace_id: string | null;
  task: string;
  payload: JsonColumn;
  status: ColumnType<JobStatus, JobStatus | undefined, JobStatus>;
  idempotency_key: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: ColumnType<number, number | undefined, number>;
  run_at: Timestamp;
  locked_until: Timestamp | null;
  locked_by: string | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Timestamp | null;
}

export type ImportMode = 'upsert' | 'add' | 'unsubscribe' | 'block';
export type ImportStatus = 'receiving' | 'queued' | 'running' | 'completed' | 'failed';

export interface ImportTable {
  id: string;
  workspace_id: string;
  status: ImportStatus;
  mode: ImportMode;
  list_id: string | null;
  mapping: JsonColumn<Record<string, string | null> | null> | null;
  filename: string | null;
  source: 'api' | 'cli';
  source_id: string | null;
  size_bytes: ColumnType<string, number | undefined, number>;
  rows_total: ColumnType<number, number | undefined, number>;
  created_count: ColumnType<number, number | undefined, number>;
  updated_count: ColumnType<number, number | undefined, number>;
  skipped_count: ColumnType<number, number | undefined, number>;
  failed_count: ColumnType<number, number | undefined, number>;
  /** Rows stored with a hygiene warning (0024). */
  warning_count: ColumnType<number, number | undefined, number>;
  error: string | null;
  created_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export interface ImportChunkTable {
  import_id: string;
  seq: number;
  data: Buffer;
}

export interface ImportErrorTable {
  import_id: string;
  line: number;
  reason: string;
}

/** A hygiene warning on an imported row (0024). */
export interface ImportWarningTable {
  import_id: string;
  line: number;
  code: string;
  message: string;
  suggestion: string | null;
}

export type Row<T extends keyof Database> = Selectable<Database[T]>;
export type NewRow<T extends keyof Database> = Insertable<Database[T]>;
export type RowUpdate<T extends keyof Database> = Updateable<Database[T]>;

export type CampaignStatus = 'draft' | 'scheduled' | 'sending' | 'testing' | 'paused' | 'sent' | 'cancelled';

export interface CampaignTable {
  id: string;
  workspace_id: string;
  name: string;
  status: ColumnType<CampaignStatus, CampaignStatus | undefined, CampaignStatus>;
  from_name: string | null;
  from_email: string | null;
  reply_to: string | null;
  subject: string | null;
  preheader: string | null;
  template_id: string | null;
  template_version_id: string | null;
  transport_id: string | null;
  rate_limit_per_second: number | null;
  track_opens: ColumnType<boolean, boolean | undefined, boolean>;
  track_clicks: ColumnType<boolean, boolean | undefined, boolean>;
  failure_threshold: ColumnType<number, number | undefined, number>;
  /** Guardrails (0022): the hard-bounce and complaint rates that pause sending, after a minimum sample. */
  hard_bounce_threshold: ColumnType<number, number | undefined, number>;
  complaint_threshold: ColumnType<number, number | undefined, number>;
  guardrail_min_sent: ColumnType<number, number | undefined, number>;
  scheduled_at: Timestamp | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  status_reason: string | null;
  audience_cursor: string | null;
  audience_exhausted: ColumnType<boolean, boolean | undefined, boolean>;
  /** The one-second window the rate limit counts claims in, and the count so far (0012). */
  rate_window_start: ColumnType<Date | null, Date | null | undefined, Date | null>;
  rate_window_count: ColumnType<number, number | undefined, number>;
  to_send: ColumnType<number, number | undefined, number>;
  sent_count: ColumnType<number, number | undefined, number>;
  failed_count: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Appended to tracked links' destinations (0008). */
  utm_source: ColumnType<string | null, string | null | undefined, string | null>;
  utm_medium: ColumnType<string | null, string | null | undefined, string | null>;
  utm_campaign: ColumnType<string | null, string | null | undefined, string | null>;
  utm_content: ColumnType<string | null, string | null | undefined, string | null>;
  utm_term: ColumnType<string | null, string | null | undefined, string | null>;
  /** Experiments (0027): the held-out share, the seed of the random draws, the A/B winner for the remainder. */
  holdout_share: ColumnType<number, number | undefined, number>;
  random_seed: ColumnType<string | null, string | null | undefined, string | null>;
  remainder_variant: ColumnType<number | null, number | null | undefined, number | null>;
  send_time_optimization: ColumnType<boolean, boolean | undefined, boolean>;
}

export type AbTestMetric =
  | 'human_unique_opens'
  | 'human_unique_clicks'
  | 'click_to_open'
  | 'conversions'
  | 'revenue_per_recipient';
export type AbTestMethod = 'frequentist' | 'bayesian';
export type AbTestPolicy = 'send_control' | 'send_leader' | 'wait';
export type AbTestPhase = 'pending' | 'testing' | 'waiting' | 'decided';

export interface CampaignAbTestTable {
  campaign_id: string;
  workspace_id: string;
  test_share: number;
  metric: AbTestMetric;
  method: AbTestMethod;
  confidence: number;
  window_minutes: number;
  when_inconclusive: AbTestPolicy;
  revenue_currency: string | null;
  phase: ColumnType<AbTestPhase, AbTestPhase | undefined, AbTestPhase>;
  test_size: ColumnType<number | null, number | null | undefined, number | null>;
  test_sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  decide_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  winner: ColumnType<number | null, number | null | undefined, number | null>;
  decided_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  decided_by: ColumnType<
    'test' | 'policy' | 'manual' | null,
    'test' | 'policy' | 'manual' | null | undefined
  >;
  decision: ColumnType<Json | null, Json | null | undefined, Json | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CampaignVariantTable {
  campaign_id: string;
  position: number;
  workspace_id: string;
  name: string;
  subject: string | null;
  preheader: string | null;
  from_name: string | null;
  template_id: string | null;
  template_version_id: ColumnType<string | null, string | null | undefined, string | null>;
  send_delay_minutes: ColumnType<number, number | undefined, number>;
}

export interface CampaignListTable {
  campaign_id: string;
  list_id: string;
  workspace_id: string;
  excluded: boolean;
}

export type SendStatus = 'queued' | 'sent' | 'failed' | 'skipped' | 'holdout';

export interface CampaignSendTable {
  campaign_id: string;
  contact_id: string;
  workspace_id: string;
  message_id: string;
  status: SendStatus;
  attempts: ColumnType<number, number | undefined, number>;
  claimed_by: string | null;
  lease_until: Timestamp | null;
  provider_message_id: string | null;
  error: string | null;
  created_at: Timestamp;
  finished_at: Timestamp | null;
  /** The A/B variant (position) this recipient got (0027); NULL without a test. */
  variant: ColumnType<number | null, number | null | undefined, number | null>;
}

export type TemplateKind = 'marketing' | 'transactional';
export type TemplateFormat = 'html' | 'mjml';

export interface TemplateTable {
  id: string;
  workspace_id: string;
  name: string;
  kind: TemplateKind | null;
  strict_variables: ColumnType<boolean, boolean | undefined, boolean>;
  latest_version: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Set when the template was deleted; its versions stay for what already pinned them (0011). */
  deleted_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface TemplateVersionTable {
  id: string;
  workspace_id: string;
  template_id: string;
  version: number;
  format: TemplateFormat;
  subject: string;
  preheader: string | null;
  body: string;
  text_body: string | null;
  compiled_html: string;
  compiled_text: string;
  snippets: JsonColumn<Record<string, string>>;
  created_at: Timestamp;
}

export interface SnippetTable {
  id: string;
  workspace_id: string;
  name: string;
  source: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SendingDomainTable {
  id: string;
  workspace_id: string;
  domain: string;
  selector: string;
  algorithm: 'rsa' | 'ed25519';
  private_key_encrypted: string;
  public_key: string;
  created_at: Timestamp;
  status: Generated<'pending' | 'verified' | 'failed'>;
  checked_at: Timestamp | null;
  /** The last check's result (`DomainCheckResult` without its domain id), as the API returns it. */
  last_check: JsonColumn<Record<string, unknown> | null> | null;
  allow_unverified: Generated<boolean>;
  /** The envelope sender's domain (b-<token>@...) for mail this domain signs; null: the From domain. */
  return_path_domain: string | null;
}

export type TransportTypeColumn = 'smtp' | 'ses' | 'mailgun' | 'sendgrid' | 'postmark' | 'file';

export interface TransportTable {
  id: string;
  workspace_id: string;
  name: string;
  type: TransportTypeColumn;
  settings: JsonColumn<Record<string, unknown>>;
  /** A JSON object of credentials encrypted with the workspace data key (purpose `transports:<id>`; older rows: encryptSecret). */
  secrets: string | null;
  rate_per_second: number | null;
  rate_per_hour: number | null;
  rate_per_day: number | null;
  max_concurrency: number;
  is_default: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type MessageStatus = 'queued' | 'sent' | 'failed';

export interface MessageTable {
  id: string;
  workspace_id: string;
  contact_id: string;
  to_email: string;
  status: MessageStatus;
  idempotency_key: string | null;
  payload: JsonColumn;
  /** SHA-256 of the normalized request, to refuse a reused idempotency key with another request (0011). */
  request_hash: ColumnType<string | null, string | null | undefined, string | null>;
  message_id: string;
  provider_message_id: string | null;
  error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  sent_at: Timestamp | null;
}

export interface TemplateLinkTable {
  id: string;
  workspace_id: string;
  template_version_id: string;
  position: number;
  url: string;
  created_at: Timestamp;
}

export type HitKind = 'open' | 'click';
export type HitClassification = 'human' | 'proxy' | 'prefetch' | 'scanner' | 'bot';

export interface TrackingHitTable {
  id: string;
  workspace_id: string;
  campaign_id: string | null;
  contact_id: string;
  message_id: string;
  link_id: string | null;
  kind: HitKind;
  occurred_at: Timestamp;
  user_agent: string | null;
  ip: string | null;
  classification: HitClassification;
  reason: string | null;
  reclassified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface AnalyticsDirtyTable {
  campaign_id: string;
  workspace_id: string;
  marked_at: Timestamp;
}

// 0010_analytics: conversions and the analytics rollups. numeric and bigint columns arrive as strings.
type Counter = ColumnType<string, number | string | undefined, number | string>;

export type ConversionAttribution = 'click_id' | 'last_click' | 'none';

export interface ConversionTable {
  id: string;
  workspace_id: string;
  contact_id: string | null;
  campaign_id: string | null;
  click_id: string | null;
  link_id: string | null;
  attribution: ConversionAttribution;
  event: string | null;
  revenue: ColumnType<string | null, string | null, string | null>;
  currency: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  occurred_at: Timestamp;
  created_at: Timestamp;
}

export interface AnalyticsConversionTable {
  campaign_id: string;
  currency: string;
  workspace_id: string;
  conversions: Counter;
  revenue: Counter;
}

export interface AnalyticsStateTable {
  name: string;
  last_hit_id: string | null;
  caught_up_to: Date | null;
  updated_at: Date | null;
}

interface EngagementCounters {
  opens: Counter;
  human_opens: Counter;
  unique_opens: Counter;
  human_unique_opens: Counter;
  clicks: Counter;
  human_clicks: Counter;
  unique_clicks: Counter;
  human_unique_clicks: Counter;
}

export interface AnalyticsCampaignTable extends EngagementCounters {
  campaign_id: string;
  workspace_id: string;
  ledger_cursor: string | null;
  ledger_done: ColumnType<boolean, boolean | undefined, boolean>;
  bounced_hard: Counter;
  bounced_soft: Counter;
}

export interface AnalyticsHourlyTable extends EngagementCounters {
  campaign_id: string;
  hour: Timestamp;
  workspace_id: string;
}

export interface AnalyticsProviderTable {
  campaign_id: string;
  provider: string;
  workspace_id: string;
  sent: Counter;
  failed: Counter;
  unique_opens: Counter;
  human_unique_opens: Counter;
  unique_clicks: Counter;
  human_unique_clicks: Counter;
}

export interface AnalyticsLinkTable {
  campaign_id: string;
  link_id: string;
  workspace_id: string;
  clicks: Counter;
  human_clicks: Counter;
  unique_clicks: Counter;
  human_unique_clicks: Counter;
}

export interface AnalyticsRecipientTable {
  campaign_id: string;
  contact_id: string;
  workspace_id: string;
  first_open_at: Date | null;
  first_human_open_at: Date | null;
  first_click_at: Date | null;
  first_human_click_at: Date | null;
}

export interface AnalyticsLinkRecipientTable {
  campaign_id: string;
  link_id: string;
  contact_id: string;
  workspace_id: string;
  human_clicked: boolean;
}

// 0013_events: behavioural events (partitioned by month of occurred_at), message-id dedup, anonymous ids.
export type EventType = 'track' | 'identify' | 'page' | 'screen';
export type EventSource = 'api' | 'herald';

export interface EventTable {
  id: string;
  workspace_id: string;
  occurred_at: Timestamp;
  received_at: Timestamp;
  type: EventType;
  name: string | null;
  contact_id: string | null;
  user_id: string | null;
  anonymous_id: string | null;
  message_id: string;
  source: ColumnType<EventSource, EventSource | undefined, EventSource>;
  properties: JsonColumn<Record<string, unknown>>;
  context: JsonColumn<Record<string, unknown> | null> | null;
}

export interface EventMessageIdTable {
  workspace_id: string;
  message_id: string;
  received_at: Timestamp;
}

export interface AnonymousIdTable {
  workspace_id: string;
  anonymous_id: string;
  contact_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

// 0014_segments: saved segments, their recorded members, and campaign audiences by segment.
export interface SegmentTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  definition: JsonColumn<unknown>;
  created_at: Timestamp;
  updated_at: Timestamp;
  members_checked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  member_count: ColumnType<number, number | undefined, number>;
}

export interface SegmentMemberTable {
  segment_id: string;
  contact_id: string;
  workspace_id: string;
  entered_at: Timestamp;
}

export interface SegmentWatermarkTable {
  workspace_id: string;
  checked_until: Timestamp;
}

export interface CampaignSegmentTable {
  campaign_id: string;
  segment_id: string;
  workspace_id: string;
  excluded: boolean;
}

// 0015_automations: automation definitions (draft) and their published, immutable versions.
export type AutomationStatus = 'draft' | 'active' | 'paused' | 'archived';

export interface AutomationTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  status: ColumnType<AutomationStatus, AutomationStatus | undefined, AutomationStatus>;
  draft_definition: JsonColumn<unknown>;
  current_version: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AutomationVersionTable {
  id: string;
  automation_id: string;
  workspace_id: string;
  version: number;
  definition: JsonColumn<unknown>;
  resolved: JsonColumn<unknown>;
  published_at: Timestamp;
}

// 0016_automation_runs: per-contact runs of an automation version and their step executions.
export type AutomationRunStatus = 'active' | 'completed' | 'exited' | 'failed';

export interface AutomationRunTable {
  id: string;
  workspace_id: string;
  automation_id: string;
  version: number;
  contact_id: string;
  instance_key: ColumnType<string, string | undefined, string>;
  status: AutomationRunStatus;
  node: string;
  step: ColumnType<number, number | undefined, number>;
  next_run_at: Date | null;
  waiting: ColumnType<unknown, string | null | undefined, string | null>;
  exit_reason: string | null;
  entered_at: Timestamp;
  finished_at: Date | null;
  updated_at: Timestamp;
  trigger_id: string | null;
  data: JsonColumn<unknown>;
}

export interface AutomationStepExecutionTable {
  run_id: string;
  step: number;
  node_id: string;
  workspace_id: string;
  executed_at: Timestamp;
  outcome: JsonColumn<unknown>;
}

// 0019_automation_reports: indexes only (tracking_hits by message_id and conversions by click_id, both
// WHERE campaign_id IS NULL, for automation reports); no table or column changes.

export interface AutomationTriggerWatermarkTable {
  workspace_id: string;
  scanned_until: Timestamp;
}

// 0018_automation_schedules: where schedule and date_attribute triggers stand, per automation.
export interface AutomationScheduleTable {
  automation_id: string;
  workspace_id: string;
  occurrence: Date | null;
  members_after: string | null;
  done: ColumnType<boolean, boolean | undefined, boolean>;
  date_checked_at: Date | null;
}

// 0020_bounces: bounce and complaint events, the suppression list, per-workspace bounce policy and
// webhook settings, Mailgun replay tokens; index campaign_sends_message_local on the Message-ID's local part.
export type BounceEventType = 'bounce' | 'complaint' | 'delivery' | 'delay' | 'auto_reply';
export type BounceSource = 'smtp' | 'imap' | 'http' | 'ses' | 'sendgrid' | 'mailgun' | 'postmark';
/** 'erased' (0034): the HMAC entry an erasure leaves; its email and email_key hold 'erased:<hex>'. */
export type SuppressionReason = 'hard_bounce' | 'soft_bounce' | 'complaint' | 'manual' | 'sunset' | 'erased';

export interface BounceEventTable {
  id: string;
  workspace_id: string;
  contact_id: string | null;
  campaign_id: string | null;
  message_ref: string | null;
  message_id: string | null;
  recipient: string;
  recipient_key: string;
  type: BounceEventType;
  severity: 'hard' | 'soft' | null;
  reason: string | null;
  status_code: string | null;
  reply_code: number | null;
  diagnostic: string | null;
  remote_mta: string | null;
  source: BounceSource;
  matched_by: 'verp' | 'message_id' | 'recipient' | 'none';
  effect: ColumnType<string, string | undefined, string>;
  evidence: JsonColumn<Record<string, unknown>> | null;
  dedup_key: string;
  occurred_at: Date | null;
  received_at: Timestamp;
}

export interface SuppressionTable {
  workspace_id: string;
  email_key: string;
  email: string;
  reason: SuppressionReason;
  source: string;
  bounce_event_id: string | null;
  note: string | null;
  created_by: string | null;
  created_at: Timestamp;
}

export interface SuppressionRemovalTable {
  id: string;
  workspace_id: string;
  email_key: string;
  previous_reason: string;
  suppressed_at: Timestamp;
  reason: string;
  removed_by: string | null;
  removed_at: Timestamp;
}

export interface DeliverabilitySettingsTable {
  workspace_id: string;
  soft_bounce_threshold: ColumnType<number, number | undefined, number>;
  soft_bounce_window_days: ColumnType<number, number | undefined, number>;
  ses_topic_arns: ColumnType<string[], string[] | undefined, string[]>;
  sendgrid_public_key: string | null;
  /** Encrypted (secret-keys encryptSecret, context `deliverability:mailgun:<workspace>`). */
  mailgun_signing_key: string | null;
  postmark_username: string | null;
  /** Encrypted (context `deliverability:postmark:<workspace>`). */
  postmark_password: string | null;
  imap_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  imap_host: ColumnType<string | null, string | null | undefined, string | null>;
  imap_port: ColumnType<number | null, number | null | undefined, number | null>;
  imap_tls: ColumnType<ImapTlsMode, ImapTlsMode | undefined, ImapTlsMode>;
  imap_user: ColumnType<string | null, string | null | undefined, string | null>;
  /** Encrypted (context `deliverability:imap:<workspace>`). */
  imap_password: ColumnType<string | null, string | null | undefined, string | null>;
  imap_mailbox: ColumnType<string, string | undefined, string>;
  imap_processed_folder: ColumnType<string, string | undefined, string>;
  imap_unparsed_folder: ColumnType<string, string | undefined, string>;
  /** Guardrail defaults for new campaigns (0030); null: Herald's. */
  hard_bounce_threshold: ColumnType<number | null, number | null | undefined, number | null>;
  complaint_threshold: ColumnType<number | null, number | null | undefined, number | null>;
  guardrail_min_sent: ColumnType<number | null, number | null | undefined, number | null>;
  updated_at: Timestamp;
}

/** How the IMAP poller secures its connection; `none` only makes sense on loopback. */
export type ImapTlsMode = 'tls' | 'starttls' | 'none';

export interface WebhookReplayTokenTable {
  workspace_id: string;
  provider: string;
  token: string;
  seen_at: Timestamp;
}

// 0025_throttling: per-recipient-domain throttle rules, warm-up schedules, and their shared counters.
export type MailboxProvider = 'gmail' | 'outlook' | 'yahoo' | 'apple';
export type ThrottleWindowKind = 'minute' | 'hour' | 'day';

export interface ThrottleRuleTable {
  id: string;
  workspace_id: string;
  name: string;
  domains: ColumnType<string[], string[] | undefined, string[]>;
  providers: ColumnType<MailboxProvider[], MailboxProvider[] | undefined, MailboxProvider[]>;
  transport_id: string | null;
  per_minute: number | null;
  per_hour: number | null;
  per_day: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WarmupScheduleTable {
  id: string;
  workspace_id: string;
  name: string;
  sending_domain_id: string | null;
  transport_id: string | null;
  /** Local date YYYY-MM-DD in the workspace's time zone. */
  start_date: string;
  daily_caps: ColumnType<number[], number[] | undefined, number[]>;
  growth_start: number | null;
  growth_factor: number | null;
  growth_target: number | null;
  /** One cap per day from start_date on. */
  caps: number[];
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ThrottleCounterTable {
  workspace_id: string;
  /** A throttle rule's or a warm-up schedule's id. */
  key_id: string;
  window_kind: ThrottleWindowKind;
  window_start: Timestamp;
  used: ColumnType<number, number | undefined, number>;
  waiting: ColumnType<number, number | undefined, number>;
}

// 0026_sunset_policy: per-workspace sunset settings; suppressions.reason gains 'sunset'.
export interface SunsetSettingsTable {
  workspace_id: string;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  inactive_days: ColumnType<number, number | undefined, number>;
  min_emails: ColumnType<number, number | undefined, number>;
  last_run_at: Date | null;
  last_run_suppressed: number | null;
  updated_at: Timestamp;
  /** 0031: the predictive rule: below this predicted open probability, sunset after predicted_inactive_days. */
  max_open_probability: ColumnType<number | null, number | null | undefined, number | null>;
  predicted_inactive_days: ColumnType<number, number | undefined, number>;
}

// 0028_contact_engagement: engagement score, predictions and send-time profile per contact; models per workspace.
export interface ContactEngagementTable {
  workspace_id: string;
  contact_id: string;
  score: number;
  p_open: number | null;
  p_click: number | null;
  open_model_id: string | null;
  click_model_id: string | null;
  /** Hour of the week, 0 = Monday 00:00 UTC. */
  best_hour: number | null;
  /** Own human opens and clicks per hour of the week in 180 days, sparse: {"33": 4}. */
  hour_counts: JsonColumn<Record<string, number>>;
  last_open_at: Date | null;
  last_click_at: Date | null;
  last_engaged_at: Date | null;
  last_conversion_at: Date | null;
  opens_30d: number;
  opens_90d: number;
  clicks_30d: number;
  clicks_90d: number;
  received_30d: number;
  received_90d: number;
  conversions_365d: number;
  computed_at: Timestamp;
}

export interface EngagementModelTable {
  id: string;
  workspace_id: string;
  kind: 'open' | 'click';
  status: 'trained' | 'refused';
  reason: string | null;
  cutoff: Timestamp;
  horizon_days: number;
  features: string[] | null;
  intercept: number | null;
  weights: number[] | null;
  training_rows: number;
  validation_rows: number;
  training_positives: number | null;
  validation_positives: number | null;
  validation_auc: number | null;
  baseline_auc: number | null;
  brier: number | null;
  log_loss: number | null;
  calibration: JsonColumn<unknown> | null;
  trained_at: Timestamp;
}

export interface WorkspaceEngagementTable {
  workspace_id: string;
  hour_counts: JsonColumn<Record<string, number>>;
  best_hour: number | null;
  contacts: number;
  refreshed_at: Timestamp;
}

/** An OAuth 2.0 client of the client credentials grant (0037). */
export interface OAuthClientTable {
  id: string;
  workspace_id: string;
  name: string;
  client_id: string;
  secret_hash: string;
  scopes: string[];
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

/** A workspace's OpenID Connect identity provider (0037). */
export interface OidcProviderTable {
  id: string;
  workspace_id: string;
  name: string;
  issuer: string;
  client_id: string;
  client_secret_encrypted: string;
  client_auth_method: 'client_secret_basic' | 'client_secret_post';
  scopes: string;
  allowed_domains: string[];
  provision_users: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type CrmProvider = 'mailchimp' | 'hubspot';
export type CrmRunKind = 'import' | 'sync' | 'push';
export type CrmRunStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface CrmConnectionTable {
  id: string;
  workspace_id: string;
  provider: CrmProvider;
  settings: JsonColumn<Record<string, unknown>>;
  secret: string;
  sync_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  synced_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  pushed_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A sign-in waiting for its callback (0037). */
export interface OidcLoginTable {
  state_hash: string;
  workspace_id: string;
  provider_id: string;
  nonce: string;
  code_verifier: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export type Role = 'owner' | 'admin' | 'editor' | 'analyst' | 'viewer';

export interface UserTable {
  id: string;
  email: string;
  email_key: Generated<string>;
  password_hash: string;
  password_changed_at: Timestamp;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  totp_last_step: number | null;
  failed_logins: Generated<number>;
  locked_until: Timestamp | null;
  created_at: Timestamp;
}

export interface MembershipTable {
  workspace_id: string;
  user_id: string;
  role: Role;
  created_at: Timestamp;
}

export interface SessionTable {
  id: string;
  token_hash: string;
  user_id: string;
  workspace_id: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  ip: string | null;
  user_agent: string | null;
}

export interface InvitationTable {
  id: string;
  workspace_id: string;
  email: string;
  role: Role;
  invited_by: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
  accepted_by: string | null;
  revoked_at: Timestamp | null;
}

/** A workspace's data key, wrapped under a master key (0036, src/modules/data-keys). */
export interface DataKeyTable {
  id: string;
  workspace_id: string;
  /** `<base64url iv>.<base64url ciphertext+tag>` of the 32-byte key (lib/data-envelope.ts wrapDataKey). */
  wrapped_key: string;
  /** The HERALD_SECRET_KEYS key id that wrapped it. */
  master_key_id: string;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  retired_at: Timestamp | null;
}

export type ShopPlatform = 'shopify' | 'woocommerce';

export interface ShopConnectionTable {
  id: string;
  workspace_id: string;
  platform: ShopPlatform;
  name: string;
  shop_url: string;
  secret_encrypted: string;
  default_currency: string;
  consent_list_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Outbound webhooks (0033). */
export interface WebhookEndpointTable {
  id: string;
  workspace_id: string;
  url: string;
  description: string | null;
  /** Subscribed event types; empty: all. */
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  secret_encrypted: string;
  /** Gets events about do-not-sell contacts: the business's own system or a service provider (0042). */
  share_do_not_sell: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ShopWebhookDeliveryTable {
  id: string;
  workspace_id: string;
  connection_id: string;
  delivery_id: string;
  event_id: string | null;
  topic: string;
  outcome: 'applied' | 'ignored';
  detail: string | null;
  received_at: Timestamp;
}

export interface ShopCustomerTable {
  connection_id: string;
  customer_id: string;
  workspace_id: string;
  contact_id: string;
  updated_at: Timestamp;
}

export interface ShopOrderTable {
  connection_id: string;
  order_id: string;
  workspace_id: string;
  contact_id: string | null;
  currency: string;
  conversion_id: string | null;
  converted_at: Timestamp | null;
  click_id: string | null;
  paid_at: Timestamp | null;
  created_at: Timestamp;
  /** The order's conversion revenue before refunds (0043). */
  revenue: ColumnType<string | null, string | null | undefined, string | null>;
  /** When Herald learned the order was cancelled (0043): it is never counted again. */
  cancelled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ShopRefundTable {
  connection_id: string;
  refund_id: string;
  workspace_id: string;
  order_id: string;
  amount: ColumnType<string, string, string>;
  created_at: Timestamp;
}

export type AuditActorType = 'api_key' | 'user' | 'oauth_client' | 'system' | 'cli';

/** Append-only (0032): a trigger refuses UPDATE, DELETE and TRUNCATE. */
export interface AuditLogTable {
  id: string;
  workspace_id: string;
  /** bigint: node-postgres returns it as a string. */
  seq: ColumnType<string, number | string, never>;
  occurred_at: Timestamp;
  actor_type: AuditActorType;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: JsonColumn<Record<string, unknown>>;
  prev_hash: string;
  hash: string;
}

export interface AuditChainHeadTable {
  workspace_id: string;
  seq: ColumnType<string, number | string, number | string>;
  entry_id: string | null;
  hash: string;
}
// 0034_privacy: erasure receipts (no personal data); suppressions.reason gains 'erased'.
export interface PrivacyErasureTable {
  id: string;
  workspace_id: string;
  reason: string;
  requested_by: string | null;
  counts: JsonColumn<Record<string, number>>;
  erased_at: Timestamp;
}

/** 0034_privacy: retention in days per kind of data; null keeps it. */
export interface PrivacyRetentionTable {
  workspace_id: string;
  events_days: number | null;
  tracking_hits_days: number | null;
  send_ledger_days: number | null;
  message_bodies_days: number | null;
  bounce_details_days: number | null;
  consent_records_days: number | null;
  unsubscribed_contacts_days: number | null;
  last_run_at: Date | null;
  last_run_deleted: JsonColumn<Record<string, number> | null> | null;
  updated_at: Timestamp;
}

export interface WebhookEventTable {
  id: string;
  workspace_id: string;
  type: string;
  contact_id: string | null;
  payload: string;
  /** The contact was flagged do_not_sell when the event was written (0042). */
  contact_do_not_sell: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveryTable {
  id: string;
  workspace_id: string;
  endpoint_id: string;
  event_id: string;
  contact_id: string | null;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: Timestamp | null;
  locked_until: Timestamp | null;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Timestamp | null;
  delivered_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CrmSyncRunTable {
  id: string;
  workspace_id: string;
  connection_id: string;
  kind: CrmRunKind;
  status: CrmRunStatus;
  since: Date | null;
  next_offset: ColumnType<number, number | undefined, number>;
  next_cursor: ColumnType<string | null, string | null | undefined, string | null>;
  pages: ColumnType<number, number | undefined, number>;
  total: ColumnType<number | null, number | null | undefined, number | null>;
  counts: ColumnType<Record<string, number>, string | undefined, string>;
  problems: ColumnType<CrmRunProblem[], string | undefined, string>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  started_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  finished_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface CrmRunProblem {
  /** Position in the provider's listing (offset + index). */
  position: number;
  email: string | null;
  reason: string;
}

export interface CrmFieldMappingTable {
  workspace_id: string;
  fields: JsonColumn<Record<string, { attribute: string; type: AttributeType }>>;
  updated_at: Timestamp;
}

/** A list membership the Mailchimp connector created from a tag (0043): removed when the tag goes. */
export interface CrmTagMembershipTable {
  connection_id: string;
  list_id: string;
  contact_id: string;
  workspace_id: string;
  tag: string;
  created_at: Timestamp;
}
