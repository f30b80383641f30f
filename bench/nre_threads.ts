// Training throughput of NRE-B with 1 and 2 threads (same run, same seeds; results are identical).
//   npx tsx bench/nre_threads.ts [simulations] [epochs] [task]
import { NRE } from '../src/inference/nre.js';
import { getTask, simulateFromPrior } from '../src/tasks/index.js';

const budget = Number(process.argv[2] ?? 10000);
const epochs = Number(process.argv[3] ?? 3);
const task = getTask(process.argv[4] ?? 'two_moons');
const sims = await simulateFromPrior(task, budget, { seed: 1 });
const seconds: number[] = [];
for (const threads of (process.env.THREADS ?? '1,2,1,2').split(',').map(Number)) {
  const nre = new NRE({ prior: task.prior, variant: 'b' });
  nre.appendSimulations(sims.theta, sims.x);
  const t = performance.now();
  await nre.train({ seed: 2, maxEpochs: epochs, threads });
  seconds.push((performance.now() - t) / 1000 / epochs);
  console.log(`threads ${threads}: ${seconds.at(-1)!.toFixed(2)} s per epoch (${(0.9 * budget * 10) | 0} classifier rows)`);
}
if (seconds.length === 4) console.log(`speed-up 2 vs 1 threads: ${((seconds[0]! + seconds[2]!) / (seconds[1]! + seconds[3]!)).toFixed(2)}`);
