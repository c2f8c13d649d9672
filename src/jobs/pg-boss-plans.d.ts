/** The two statement builders of pg-boss's internals that settleCompletionsQuietly (queue.ts) recognises. */
declare module 'pg-boss/src/plans.js' {
  export function completeJobs(schema: string): string;
  export function failJobsById(schema: string): string;
}
