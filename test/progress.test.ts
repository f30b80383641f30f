// The progress line: text of an event, and drawing only on a TTY.
import { describe, expect, it } from 'vitest';
import { formatProgress, ProgressLine } from '../src/progress.js';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { stream: { isTTY, write: (s: string) => chunks.push(s) } as unknown as NodeJS.WriteStream, chunks };
}

describe('progress', () => {
  it('formats bars for known totals, counts otherwise, and rounds when there are several', () => {
    expect(formatProgress({ phase: 'sample', round: 1, rounds: 1, done: 50, total: 100 })).toBe(`sample   [${'#'.repeat(12)}${'.'.repeat(12)}] 50/100`);
    expect(formatProgress({ phase: 'train', round: 2, rounds: 3, done: 7, detail: 'loss 1' })).toBe('[round 2/3] train    epoch 7  loss 1');
  });

  it('draws on a TTY (a finished phase ends its line) and stays silent otherwise', () => {
    const tty = fakeStream(true);
    const line = new ProgressLine(tty.stream, 0);
    line.update({ phase: 'train', round: 1, rounds: 1, done: 1 });
    line.update({ phase: 'sample', round: 1, rounds: 1, done: 10, total: 10 });
    line.end();
    const text = tty.chunks.join('');
    expect(text).toContain('train    epoch 1\n');
    expect(text).toContain('10/10');
    expect(text.endsWith('\n')).toBe(true);
    const pipe = fakeStream(false);
    const quiet = new ProgressLine(pipe.stream, 0);
    quiet.update({ phase: 'train', round: 1, rounds: 1, done: 1 });
    quiet.end();
    expect(pipe.chunks).toEqual([]);
  });
});
