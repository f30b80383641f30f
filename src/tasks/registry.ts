/** Every built-in task, by name. Add a task by listing its definition here. */
import type { TaskDefinition } from './task.js';
import { bernoulliGlm, bernoulliGlmRaw } from './bernoulli_glm.js';
import { galtonBoard } from './galton_board.js';
import { gaussianLinear } from './gaussian_linear.js';
import { gaussianLinearUniform } from './gaussian_linear_uniform.js';
import { gaussianMixture } from './gaussian_mixture.js';
import { lotkaVolterra } from './lotka_volterra.js';
import { sir } from './sir.js';
import { slcp } from './slcp.js';
import { slcpDistractors } from './slcp_distractors.js';
import { twoMoons } from './two_moons.js';
import { weinberg } from './weinberg.js';

export const TASKS: readonly TaskDefinition[] = [
  gaussianLinear,
  gaussianLinearUniform,
  slcp,
  slcpDistractors,
  twoMoons,
  gaussianMixture,
  bernoulliGlm,
  bernoulliGlmRaw,
  sir,
  lotkaVolterra,
  galtonBoard,
  weinberg,
];
