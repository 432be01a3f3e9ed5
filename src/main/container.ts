import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { type DatabaseHandle, migrate, openPglite, openPostgres, readMigrations } from '../db/index.js';
import { createJobQueue, createJobRunner, type JobRunner } from '../jobs/index.js';
import type { Clock } from '../lib/clock.js';
import { createAttributeService } from '../modules/attributes/index.js';
import { createApiKeyService } from '../modules/auth/index.js';
import { createCampaignSender, createCampaignService } from '../modules/campaigns/index.js';
import {
  confirmationTasks,
  createConfirmationService,
  enqueueConfirmations,
} from '../modules/confirmations/index.js';
import { createConsentLedger } from '../modules/consent/index.js';
import { createContactService } from '../modules/contacts/index.js';
import { createExportService } from '../modules/exports/index.js';
import { createImportService, importTasks } from '../modules/imports/index.js';
import { createListService } from '../modules/lists/index.js';
import { createMessageService, messageTasks } from '../modules/messages/index.js';
import { createSendingDomainService } from '../modules/sending-domains/index.js';
import { createTemplateCompiler, createTemplateService } from '../modules/templates/index.js';
import { createTransportService } from '../modules/transports/index.js';
import { createWorkspaceService } from '../modules/workspaces/index.js';
import { loadKeyring } from './keyring.js';
import { createMailPort, createSendingPorts } from './sending-ports.js';

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

  const jobs = createJobQueue({ db, clock, onEnqueued: () => runner?.wake() });
  const apiKeys = createApiKeyService({ db, clock });
  const workspaces = createWorkspaceService({ db, clock });
  const consent = createConsentLedger({ db, clock });
  const attributes = createAttributeService({ db, clock });
  const contacts = createContactService({ db, clock, attributes, consent });
  const lists = createListService({
    db,
    clock,
    contacts,
    consent,
    onUnconfirmedSubscribed: (trx, workspaceId, listId, contactIds) =>
      enqueueConfirmations(jobs, trx, workspaceId, listId, contactIds),
  });
  const sendingDomains = createSendingDomainService({ db, clock, keyring });
  const exports = createExportService({ contacts, clock });
  const templateCompiler = createTemplateCompiler();
  const templates = createTemplateService({ db, clock, compiler: templateCompiler, contacts, workspaces });
  const transports = createTransportService({ db, clock, keyring, dataDir: config.dataDir });
  const campaigns = createCampaignService({ db, clock, templates });

  const imports = createImportService({
    db,
    database,
    clock,
    jobs,
    attributes,
    maxBytes: config.importMaxBytes,
    onUnconfirmedSubscribed: (trx, workspaceId, listId, contactIds) =>
      enqueueConfirmations(jobs, trx, workspaceId, listId, contactIds),
  });

  const mailPort = createMailPort({
    keyring,
    clock,
    logger: logger.child({ component: 'mail' }),
    sendingDomains,
    transports,
  });
  const messages = createMessageService({
    db,
    clock,
    jobs,
    contacts,
    templates,
    compiler: templateCompiler,
    workspaces,
    mail: mailPort,
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
  });

  const tasks = {
    ...importTasks({ imports }),
    ...messageTasks({ messages }),
    ...confirmationTasks({ confirmations }),
  };
  runner = createJobRunner({
    db,
    clock,
    logger: logger.child({ component: 'jobs' }),
    tasks,
    concurrency: config.jobConcurrency,
    pollIntervalMs: config.jobPollIntervalMs,
  });

  const sendingPorts = createSendingPorts({
    keyring,
    publicUrl: config.publicUrl,
    clock,
    logger: logger.child({ component: 'sender' }),
    templates,
    lists,
    workspaces,
    sendingDomains,
    transports,
  });
  const sender = createCampaignSender({
    db,
    clock,
    logger: logger.child({ component: 'sender' }),
    campaigns,
    workerId: runner.workerId,
    ports: sendingPorts,
    leaseMs: config.sendLeaseMs,
  });

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
    sender,
    sendingPorts,
    /** Starts background work in this process: jobs and campaign sending. */
    startWorkers() {
      runner?.start();
      sender.start(config.jobPollIntervalMs);
    },
    apiKeys,
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
    sendingDomains,
    transports,
    messages,
    confirmations,
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
      sendingDomains,
      transports,
      messages,
      confirmations,
    },
    migrate: () => migrate(db),
    async close(): Promise<void> {
      await sender.stop();
      await runner?.stop();
      await transports.closeAll();
      await database.close();
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
