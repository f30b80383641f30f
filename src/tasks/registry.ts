/** Every built-in task, by name. Add a task by listing its definition here. */
import type { TaskDefinition } from './task.js';
import { galtonBoard } from './galton_board.js';
import { lotkaVolterra } from './lotka_volterra.js';
import { sir } from './sir.js';
import { twoMoons } from './two_moons.js';
import { weinberg } from './weinberg.js';

export const TASKS: readonly TaskDefinition[] = [
  twoMoons,
  sir,
  lotkaVolterra,
  galtonBoard,
  weinberg,
];
