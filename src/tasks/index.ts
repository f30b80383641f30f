/** Task lookup and the task-level simulation API. */
import { SbiError } from '../errors.js';
import { createPrior } from '../priors.js';
import type { Prior } from '../priors.js';
import { NativeSimulator } from '../simulators/simulator.js';
import type { SimulateOptions, SimulationResult } from '../simulators/simulator.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { TASKS } from './registry.js';
import type { TaskDefinition } from './task.js';
import { hasReferenceData } from './reference.js';

export type { TaskDefinition, DesignVariable } from './task.js';
export { TASKS } from './registry.js';
export * from './reference.js';

export interface Task {
  readonly definition: TaskDefinition;
  readonly name: string;
  readonly prior: Prior;
  readonly simulator: NativeSimulator;
  /** Default design values (empty if the task has none). */
  readonly defaultDesign: Float64Array;
  readonly hasReference: boolean;
}

export function listTasks(): readonly TaskDefinition[] {
  return TASKS;
}

export function getTask(name: string): Task {
  const def = TASKS.find((t) => t.name === name);
  if (!def) {
    throw new SbiError(`Unknown task "${name}"; known tasks: ${TASKS.map((t) => t.name).join(', ')}`, 'UNKNOWN_TASK');
  }
  return {
    definition: def,
    name: def.name,
    prior: createPrior(def.prior),
    simulator: new NativeSimulator(def.simulator),
    defaultDesign: Float64Array.from(def.design.map((d) => d.default)),
    hasReference: hasReferenceData(def.name),
  };
}

/**
 * n draws θ ~ prior and x ~ simulator(θ) for a task. The prior and the simulator use keys
 * derived from `seed` (see seeds.ts), so θ and the simulator's noise are independent.
 */
export async function simulateFromPrior(
  task: Task,
  n: number,
  options: Omit<SimulateOptions, 'seed'> & { seed: number | bigint },
): Promise<SimulationResult & { theta: Float64Array }> {
  const theta = task.prior.sample(n, {
    seed: deriveSeed(options.seed, SeedPurpose.prior),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  const result = await task.simulator.simulate(theta, {
    ...options,
    seed: deriveSeed(options.seed, SeedPurpose.simulator),
    ...(task.defaultDesign.length > 0 && options.design === undefined ? { design: task.defaultDesign } : {}),
  });
  return { ...result, theta };
}
