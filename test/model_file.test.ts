// The versioned, checksummed model container: round trip, and clear errors for every kind of
// damage (never a crash, never a silently wrong model).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeModelFile, encodeModelFile, FORMAT_VERSION, loadModelFile, saveModelFile, type ModelFile } from '../src/io/model_file.js';

const model: ModelFile = {
  kind: 'test/mlp',
  metadata: { layers: [3, 5, 1], activation: 'relu', prior: { kind: 'boxUniform', low: [-1], high: [1] } },
  tensors: {
    w0: { data: Float32Array.from({ length: 15 }, (_, i) => i / 7 - 1), shape: [5, 3] },
    b0: { data: Float64Array.of(Math.PI, -0, 1e-300, Infinity, NaN), shape: [5] },
    perm: { data: Int32Array.of(2, 0, 1), shape: [3] },
    mask: { data: Uint8Array.of(1, 0, 1), shape: [3] },
    empty: { data: new Float32Array(0), shape: [0, 4] },
  },
};

const sameBits = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('model file', () => {
  it('round-trips kind, metadata and every tensor bit for bit', () => {
    const back = decodeModelFile(encodeModelFile(model), { expectedKind: 'test/mlp' });
    expect(back.kind).toBe(model.kind);
    expect(back.metadata).toEqual(model.metadata);
    for (const [name, t] of Object.entries(model.tensors)) {
      expect(back.tensors[name]!.shape).toEqual(t.shape);
      expect(back.tensors[name]!.data.constructor).toBe(t.data.constructor);
      expect(sameBits(back.tensors[name]!.data, t.data), name).toBe(true);
    }
  });

  it('saves and loads through the file system', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-model-')), 'm.bin');
    saveModelFile(file, model);
    expect(loadModelFile(file).tensors.w0!.data).toEqual(model.tensors.w0!.data);
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  it('detects any flipped byte with CORRUPT_MODEL_FILE', () => {
    const bytes = encodeModelFile(model);
    for (let i = 16; i < bytes.length; i += 7) {
      const damaged = bytes.slice();
      damaged[i] ^= 0x40;
      expect(() => decodeModelFile(damaged), `byte ${i}`).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
    }
  });

  it('detects truncation, foreign files, other versions and the wrong kind', () => {
    const bytes = encodeModelFile(model);
    for (const n of [0, 10, 19, 100, bytes.length - 1]) {
      expect(() => decodeModelFile(bytes.slice(0, n))).toThrow(expect.objectContaining({ name: 'SbiError' }));
    }
    expect(() => decodeModelFile(Buffer.from('PK\u0003\u0004 this is a zip file, not a model'))).toThrow(
      expect.objectContaining({ code: 'NOT_A_MODEL_FILE' }),
    );
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(8, FORMAT_VERSION + 1, true);
    expect(() => decodeModelFile(newer)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MODEL_VERSION' }));
    expect(() => decodeModelFile(bytes, { expectedKind: 'NPE/maf' })).toThrow(expect.objectContaining({ code: 'WRONG_MODEL_KIND' }));
    expect(() => loadModelFile('/nonexistent/model.bin')).toThrow(expect.objectContaining({ code: 'FILE_NOT_FOUND' }));
  });

  it('rejects tensors whose shape does not match their data when writing', () => {
    expect(() => encodeModelFile({ kind: 'k', metadata: {}, tensors: { w: { data: new Float32Array(6), shape: [4, 2] } } })).toThrow(RangeError);
    expect(() => encodeModelFile({ kind: '', metadata: {}, tensors: {} })).toThrow(TypeError);
  });
});
