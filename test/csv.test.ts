// CSV tables: float32 columns round-trip exactly in at most 9 significant digits; non-finite
// values are spelled out; malformed input gives SbiError BAD_CSV naming the line.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCsv, writeCsv } from '../src/csv.js';
import { Rng } from './oracles/rng.js';

async function roundTrip(names: string[], values: Float32Array | Float64Array): Promise<{ text: string; data: Float64Array }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-csv-')), 't.csv');
  await writeCsv(file, values.length / names.length, [{ names, values }]);
  const text = fs.readFileSync(file, 'utf8');
  fs.rmSync(path.dirname(file), { recursive: true });
  return { text, data: parseCsv(text).data };
}

describe('CSV', () => {
  it('writes float32 values that read back to the same float32, without trailing zeros', async () => {
    const rng = new Rng(5);
    const v = new Float32Array(3000);
    for (let i = 0; i < v.length; i++) v[i] = (rng.uniform() - 0.5) * 10 ** Math.floor(rng.uniform() * 74 - 37);
    v.set([1, 0.5, -0, 123456789, 3.4e38, 1.17549435e-38, 1e-45], 0);
    const { text, data } = await roundTrip(['a', 'b', 'c'], v);
    // (−0 is written as 0.)
    for (let i = 0; i < v.length; i++) expect(Math.fround(data[i]!) === v[i], `value ${v[i]}`).toBe(true);
    const cells = text.split(/[\n,]/).slice(3, 9);
    expect(cells).toEqual(['1', '0.5', '0', '123456792', '3.39999995e+38', '1.17549435e-38']);
  });

  it('writes float64 values in their shortest round-trip form and non-finite values as nan / inf', async () => {
    const v = Float64Array.of(0.1, Math.PI, NaN, Infinity, -Infinity, 1e-300);
    const { text, data } = await roundTrip(['x', 'y'], v);
    expect(text).toBe('x,y\n0.1,3.141592653589793\nnan,inf\n-inf,1e-300\n');
    expect(data[0]).toBe(0.1);
    expect(Number.isNaN(data[2])).toBe(true);
    expect(data[3]).toBe(Infinity);
  });

  it('rejects malformed tables naming the line and column', () => {
    expect(() => parseCsv('')).toThrow(expect.objectContaining({ code: 'BAD_CSV' }));
    expect(() => parseCsv('a,b\n1,2\n3\n')).toThrow(/line 3: expected 2 values but found 1/);
    expect(() => parseCsv('a,b\n1,x\n')).toThrow(/line 2, column 2 \("b"\): "x" is not a number/);
  });
});
