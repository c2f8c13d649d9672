import { describeKillRuns } from './helpers/crash-runs.js';

// The kill -9 runs come in four files of five: ≥ 20 per CI pass, each file within the runner's two minutes.
describeKillRuns('1 of 4', Number(process.env.CRASH_RUNS_PER_FILE ?? 5));
