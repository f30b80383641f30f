/**
 * lotka_volterra (sbibm; Lueckmann et al. 2021, arXiv:2101.04653): predator–prey dynamics,
 * θ = (α, β, γ, δ), prey u and predator v:
 *   du/dt = α u − β u v,  dv/dt = −γ v + δ u v,  (u, v)(0) = (30, 1)
 *   x = (u(t_0..t_9), v(t_0..t_9)) with LogNormal(log clamp(·, 1e-10, 1e4), 0.1) noise, t_k = 2.1 k
 * Prior: log θ_i ~ N(μ_i, 0.5²) with μ = (−0.125, −3, −0.125, −3).
 * Kernel: kernels/simulators/lotka_volterra.h.
 */
import type { TaskDefinition } from './task.js';

export const lotkaVolterra: TaskDefinition = {
  name: 'lotka_volterra',
  description: 'Lotka-Volterra predator-prey model: log-normal noisy populations at 10 times (sbibm)',
  thetaDim: 4,
  xDim: 20,
  prior: { kind: 'logNormal', loc: [-0.125, -3, -0.125, -3], scale: [0.5, 0.5, 0.5, 0.5] },
  simulator: 'lotka_volterra',
  design: [],
  gold: false,
};
