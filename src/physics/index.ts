/** Exact likelihoods of the physics toy simulators (oracles for tests and diagnostics). */
export * from './galton_board.js';
export * from './weinberg.js';
