/**
 * The versioned binary container for trained estimators (and anything else that is named
 * arrays plus JSON metadata). Layout, little-endian:
 *
 *   0   8 bytes  magic "SBIMODEL"
 *   8   u32      format version (FORMAT_VERSION)
 *   12  u32      header length h (bytes of UTF-8 JSON)
 *   16  h bytes  header: { kind, metadata, tensors: [{ name, dtype, shape, offset, byteLength }] }
 *   ..  padding to a multiple of 8, then the tensor data (each tensor 8-byte aligned, offsets
 *       relative to the start of the data section)
 *   end u32      CRC-32 of every byte before it
 *
 * Reading checks the magic, the version, the checksum, the header and every tensor's bounds and
 * shape before building anything, so a corrupt, truncated or foreign file gives an SbiError with
 * a code — never a crash or a silently wrong model.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { SbiError } from '../errors.js';

export const FORMAT_VERSION = 1;
const MAGIC = 'SBIMODEL';

export type TensorArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface Tensor {
  data: TensorArray;
  shape: number[];
}

export interface ModelFile {
  /** What the file holds, e.g. "NPE/maf"; readers check it. */
  kind: string;
  /** JSON-serialisable settings (architecture, prior spec, z-score statistics, ...). */
  metadata: Record<string, unknown>;
  tensors: Record<string, Tensor>;
}

const DTYPES = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u8: Uint8Array,
} as const;
type DType = keyof typeof DTYPES;

function dtypeOf(a: TensorArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint8Array) return 'u8';
  throw new TypeError('Expected a Float32Array, Float64Array, Int32Array or Uint8Array tensor');
}

const align8 = (n: number) => (n + 7) & ~7;
const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  byteLength: number;
}

/** Serialises a model file. */
export function encodeModelFile(file: ModelFile): Uint8Array {
  if (typeof file.kind !== 'string' || file.kind.length === 0) throw new TypeError('Expected a non-empty string for `kind`');
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(file.tensors)) {
    const dtype = dtypeOf(t.data);
    if (!Array.isArray(t.shape) || t.shape.some((s) => !Number.isSafeInteger(s) || s < 0) || product(t.shape) !== t.data.length) {
      throw new RangeError(`Tensor "${name}": shape [${t.shape}] does not match its ${t.data.length} elements`);
    }
    entries.push({ name, dtype, shape: t.shape, offset, byteLength: t.data.byteLength });
    offset = align8(offset + t.data.byteLength);
  }
  const header = Buffer.from(JSON.stringify({ kind: file.kind, metadata: file.metadata, tensors: entries }), 'utf8');
  const dataStart = align8(16 + header.length);
  const total = dataStart + offset + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, header.length, true);
  out.set(header, 16);
  for (const e of entries) {
    const t = file.tensors[e.name]!.data;
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), dataStart + e.offset);
  }
  view.setUint32(total - 4, zlib.crc32(out.subarray(0, total - 4)), true);
  return out;
}

const corrupt = (why: string) => new SbiError(`Corrupt model file: ${why}`, 'CORRUPT_MODEL_FILE');

/** Parses and verifies a model file; `expectedKind` (if given) must match its kind. */
export function decodeModelFile(bytes: Uint8Array, options: { expectedKind?: string } = {}): ModelFile {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('Expected a Uint8Array of model file bytes');
  if (bytes.length < 20 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC) {
    throw new SbiError('Not an sbi-engine model file (bad magic bytes)', 'NOT_A_MODEL_FILE');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    throw new SbiError(`Unsupported model file version ${version} (this build reads version ${FORMAT_VERSION})`, 'UNSUPPORTED_MODEL_VERSION');
  }
  const stored = view.getUint32(bytes.length - 4, true);
  if (zlib.crc32(bytes.subarray(0, bytes.length - 4)) !== stored) throw corrupt('checksum mismatch (damaged or truncated)');
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length - 4) throw corrupt('header runs past the end of the file');
  let header: { kind?: unknown; metadata?: unknown; tensors?: unknown };
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(16, 16 + headerLength)).toString('utf8'));
  } catch {
    throw corrupt('header is not valid JSON');
  }
  if (typeof header.kind !== 'string' || !Array.isArray(header.tensors) || typeof header.metadata !== 'object' || header.metadata === null) {
    throw corrupt('header lacks kind, metadata or tensors');
  }
  if (options.expectedKind !== undefined && header.kind !== options.expectedKind) {
    throw new SbiError(`Expected a model file of kind "${options.expectedKind}" but this one holds "${header.kind}"`, 'WRONG_MODEL_KIND');
  }
  const dataStart = align8(16 + headerLength);
  const dataEnd = bytes.length - 4;
  const tensors: Record<string, Tensor> = {};
  for (const raw of header.tensors as TensorEntry[]) {
    const Ctor = DTYPES[raw?.dtype as DType];
    if (!Ctor || typeof raw.name !== 'string' || !Array.isArray(raw.shape) || raw.shape.some((s) => !Number.isSafeInteger(s) || s < 0)) {
      throw corrupt(`bad tensor entry ${JSON.stringify(raw)?.slice(0, 80)}`);
    }
    const count = product(raw.shape);
    const start = dataStart + raw.offset;
    if (!Number.isSafeInteger(raw.offset) || raw.offset % 8 !== 0 || raw.byteLength !== count * Ctor.BYTES_PER_ELEMENT || start + raw.byteLength > dataEnd) {
      throw corrupt(`tensor "${raw.name}" lies outside the data section or disagrees with its shape`);
    }
    // Copy into a fresh, aligned buffer so the result never aliases the caller's bytes.
    const data = new Ctor(count);
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + raw.byteLength));
    tensors[raw.name] = { data, shape: raw.shape };
  }
  return { kind: header.kind, metadata: header.metadata as Record<string, unknown>, tensors };
}

export function saveModelFile(path: string, file: ModelFile): void {
  fs.writeFileSync(path, encodeModelFile(file));
}

export function loadModelFile(path: string, options: { expectedKind?: string } = {}): ModelFile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw new SbiError(`Cannot read model file ${path}: ${(e as Error).message}`, 'FILE_NOT_FOUND');
  }
  return decodeModelFile(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), options);
}
