export { createJobQueue, type EnqueueOptions, type JobQueue } from './job-queue.js';
export {
  createJobRunner,
  type JobContext,
  type JobRunner,
  PermanentJobError,
  type TaskDefinition,
  type TaskHandler,
  type TaskRegistry,
} from './job-runner.js';
export { createJobScheduler, type JobScheduler, type Schedule } from './job-scheduler.js';
export type { JobRow, QueueStat } from './jobs.repository.js';
