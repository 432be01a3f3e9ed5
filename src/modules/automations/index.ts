export {
  type AutomationDefinition,
  type AutomationNode,
  checkAutomationDefinition,
  type Trigger,
} from './automation-definition.js';
export {
  type AutomationEngine,
  createAutomationEngine,
  type EnrolResult,
  type Run,
} from './automation-engine.js';
export {
  type AutomationReport,
  type AutomationReports,
  createAutomationReports,
} from './automation-reports.js';
export {
  type AutomationSimulator,
  createAutomationSimulator,
  type SimulationResult,
} from './automation-simulation.js';
export {
  automationTasks,
  createTriggerScan,
  TRIGGERS_TASK,
  type TriggerScan,
} from './automation-triggers.js';
export { automationWebhookTasks, WEBHOOK_TASK } from './automation-webhooks.js';
export { automationsRoutes } from './automations.routes.js';
export {
  type Automation,
  type AutomationService,
  type AutomationVersion,
  createAutomationService,
} from './automations.service.js';
