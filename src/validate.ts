/** Argument checks with actionable messages: name the argument, the expectation, the value. */

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `"${value.length > 40 ? value.slice(0, 40) + '...' : value}"`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'function') return 'a function';
  return typeof value;
}

export function checkPositiveInteger(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw new TypeError(`Expected a positive integer for \`${name}\` but received ${describe(value)}`);
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new RangeError(`Expected a positive integer${max < Number.MAX_SAFE_INTEGER ? ` <= ${max}` : ''} for \`${name}\` but received ${describe(value)}`);
  }
  return value;
}

export function checkNonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`Expected a non-negative integer for \`${name}\` but received ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Expected a non-negative integer for \`${name}\` but received ${describe(value)}`);
  }
  return value;
}

export function checkSeed(value: unknown, name = 'seed'): number | bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n) throw new RangeError(`Expected \`${name}\` in [0, 2^64) but received ${value}`);
    return value;
  }
  return checkNonNegativeInteger(value, name);
}

export function checkThreads(value: unknown): number {
  return checkPositiveInteger(value, 'threads', 1024);
}

export function checkFinite(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`Expected a number for \`${name}\` but received ${describe(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`Expected a finite number for \`${name}\` but received ${value}`);
  return value;
}

export function checkFiniteArray(a: ArrayLike<number>, name: string, cols = 1): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      const where = cols > 1 ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`;
      throw new RangeError(`Expected finite values in \`${name}\` but ${where} is ${a[i]}`);
    }
  }
}

/** Checks a row-major matrix held in a Float64Array and returns its number of rows. */
export function checkMatrix(a: unknown, cols: number, name: string): number {
  if (!(a instanceof Float64Array)) {
    throw new TypeError(`Expected a Float64Array for \`${name}\` ([n, ${cols}] row-major) but received ${describe(a)}`);
  }
  if (a.length === 0 || a.length % cols !== 0) {
    throw new RangeError(`Expected \`${name}\` to hold a positive multiple of ${cols} values ([n, ${cols}]) but received ${a.length}`);
  }
  return a.length / cols;
}

export function checkPositive(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`Expected a positive number for \`${name}\` but received ${describe(value)}`);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`Expected a positive number for \`${name}\` but received ${value}`);
  }
  return value;
}

export function checkProbability(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`Expected a probability in [0, 1] for \`${name}\` but received ${describe(value)}`);
  if (!(value >= 0 && value <= 1)) throw new RangeError(`Expected a probability in [0, 1] for \`${name}\` but received ${value}`);
  return value;
}

/** An array (or typed array) of finite numbers, copied into a Float64Array; `length` if given must match. */
export function checkNumberArray(value: unknown, name: string, length?: number): Float64Array {
  const isArrayLike = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!isArrayLike) throw new TypeError(`Expected an array of numbers for \`${name}\` but received ${describe(value)}`);
  const items = value as ArrayLike<unknown>;
  if (length !== undefined && items.length !== length) {
    throw new RangeError(`Expected \`${name}\` to have ${length} elements but received ${items.length}`);
  }
  if (length === undefined && items.length === 0) throw new RangeError(`Expected a non-empty array for \`${name}\``);
  const out = new Float64Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (typeof v !== 'number') throw new TypeError(`Expected numbers in \`${name}\` but index ${i} is ${describe(v)}`);
    if (!Number.isFinite(v)) throw new RangeError(`Expected finite values in \`${name}\` but index ${i} is ${v}`);
    out[i] = v;
  }
  return out;
}
