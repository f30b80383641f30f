/** Thread pool and CPU dispatch controls of the native runtime. */
import { native } from './native.js';
import { checkThreads } from './validate.js';

export type IsaPath = 'scalar' | 'avx2' | 'avx512';

export interface RuntimeInfo {
  hardwareThreads: number;
  defaultThreads: number;
  /** Best instruction-set path this CPU supports. */
  detectedIsa: IsaPath;
  /** Path in use (results are bit-identical on every path). */
  activeIsa: IsaPath;
}

export function runtimeInfo(): RuntimeInfo {
  return native.runtimeInfo() as RuntimeInfo;
}

/** Default number of threads for batched kernels (initially: all cores). */
export function setThreads(threads: number): void {
  native.setThreads(checkThreads(threads));
}

/** Forces an instruction-set path ('auto' restores detection). Throws SbiError if unsupported. */
export function setIsa(isa: IsaPath | 'auto'): void {
  native.setIsa(isa);
}
