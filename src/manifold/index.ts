/** Transforms and flows on the circle, the interval [−1, 1] and the torus (docs/manifold.md). */
export * from './transforms.js';
export * from './torus.js';
