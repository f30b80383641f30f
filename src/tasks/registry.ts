/** Every built-in task, by name. Add a task by listing its definition here. */
import type { TaskDefinition } from './task.js';
import { bernoulliGlm, bernoulliGlmRaw } from './bernoulli_glm.js';
import { gaussianLinear } from './gaussian_linear.js';
import { gaussianLinearUniform } from './gaussian_linear_uniform.js';
import { gaussianMixture } from './gaussian_mixture.js';
import { slcp } from './slcp.js';
import { slcpDistractors } from './slcp_distractors.js';
import { twoMoons } from './two_moons.js';

export const TASKS: readonly TaskDefinition[] = [
  twoMoons,
  gaussianLinear,
  gaussianLinearUniform,
  gaussianMixture,
  slcp,
  slcpDistractors,
  bernoulliGlm,
  bernoulliGlmRaw,
];
