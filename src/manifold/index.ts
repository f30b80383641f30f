/** Transforms and flows on the circle, the interval [−1, 1], the torus and the sphere (docs/manifold.md). */
export * from './transforms.js';
export * from './torus.js';
export * from './flow.js';
