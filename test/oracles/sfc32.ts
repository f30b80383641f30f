/**
 * SFC32, the 32-bit "small fast counting" generator of Chris Doty-Humphrey's PractRand (passes
 * PractRand and TestU01 BigCrush): four 32-bit words, a counter guaranteeing a period ≥ 2^32.
 * The test oracles draw from it so that they share nothing with the engine's Philox streams.
 */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private counter: number;

  constructor(seed: number) {
    // PractRand's seeding: (0, seed_lo, seed_hi, 1), then 12 discarded outputs.
    this.a = 0;
    this.b = seed >>> 0;
    this.c = Math.floor(seed / 4294967296) >>> 0;
    this.counter = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.counter) | 0;
    this.counter = (this.counter + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform on the open interval (0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }

  /** Standard normal by Box–Muller (one variate per call, the sine one discarded). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
}
