import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { clientText, createLogger, LogBurstLimit, MAX_LOGGED_TEXT } from '../../src/logger';

describe('LogBurstLimit', () => {
  it('lets the first lines of a window through, counts the rest and reports them when it ends', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const summaries: [number, number][] = [];
      const limit = new LogBurstLimit(3, 1_000, (suppressed, windowMs) =>
        summaries.push([suppressed, windowMs]),
      );
      const first = Array.from({ length: 10 }, () => limit.allow());
      assert.deepEqual(first, [true, true, true, false, false, false, false, false, false, false]);
      assert.deepEqual(summaries, []);
      mock.timers.tick(1_000);
      assert.deepEqual(summaries, [[7, 1_000]]);
      // A new window starts with the next line; a window that suppressed nothing reports nothing.
      assert.deepEqual([limit.allow(), limit.allow()], [true, true]);
      mock.timers.tick(1_000);
      assert.deepEqual(summaries, [[7, 1_000]]);
      // flush() ends the window at once.
      for (let i = 0; i < 5; i++) limit.allow();
      limit.flush();
      assert.deepEqual(summaries, [
        [7, 1_000],
        [2, 1_000],
      ]);
      assert.equal(limit.allow(), true);
    } finally {
      mock.timers.reset();
    }
  });

  it('log() writes info lines while the window allows, debug lines beyond it', () => {
    const lines: { level: number; msg: string; n: number }[] = [];
    const logger = createLogger('debug', {
      write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]),
    });
    const limit = new LogBurstLimit(2, 60_000, () => undefined);
    for (let n = 0; n < 4; n++) limit.log(logger, { n }, 'a client connected');
    assert.deepEqual(
      lines.map(({ level, msg, n }) => [level, msg, n]),
      [
        [30, 'a client connected', 0],
        [30, 'a client connected', 1],
        [20, 'a client connected', 2],
        [20, 'a client connected', 3],
      ],
    );
    limit.flush();
  });
});

describe('clientText', () => {
  it('keeps short text as it is and cuts long text, saying how long it was', () => {
    assert.equal(clientText('node-1'), 'node-1');
    assert.equal(clientText(undefined), undefined);
    assert.equal(clientText(null), undefined);
    const long = 'x'.repeat(1 << 20);
    const cut = clientText(long);
    assert.equal(cut.length, MAX_LOGGED_TEXT);
    assert.match(cut, /^x{200,}… \(cut, 1048576 characters in all\)$/);
    assert.equal(clientText('y'.repeat(MAX_LOGGED_TEXT)), 'y'.repeat(MAX_LOGGED_TEXT));
  });
});
