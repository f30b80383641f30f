/**
 * The one error class of the engine. Native code receives this class at load time and
 * throws it for every failure that is not a plain bad argument (those are TypeError /
 * RangeError), so every error carries a JS stack and a machine-readable `code`.
 */
export class SbiError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'SbiError';
    this.code = code;
  }
}
