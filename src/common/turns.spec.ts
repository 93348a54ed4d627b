import { Turns } from './turns';

describe('Turns', () => {
  it('lets callers go in the order they asked, each in an event-loop turn of its own', async () => {
    const turns = new Turns();
    // An independent chain of immediates counts the turns of the event loop.
    let turn = 0;
    let counting = true;
    const count = () => {
      turn++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const order: number[] = [];
    const turnOf: number[] = [];
    await Promise.all(
      [0, 1, 2, 3].map((i) =>
        turns.take().then(() => {
          order.push(i);
          turnOf.push(turn);
        }),
      ),
    );
    counting = false;
    expect(order).toEqual([0, 1, 2, 3]);
    expect(new Set(turnOf).size).toBe(4);
  });

  it('goes on after it ran dry, and a caller that asks while others wait queues behind them', async () => {
    const turns = new Turns();
    await turns.take();
    const order: string[] = [];
    const first = turns.take().then(() => order.push('first'));
    const second = turns.take().then(async () => {
      order.push('second');
      await turns.take();
      order.push('second again');
    });
    const third = turns.take().then(() => order.push('third'));
    await Promise.all([first, second, third]);
    expect(order).toEqual(['first', 'second', 'third', 'second again']);
  });

  it("goes on under a test's fake timers, as a host app's login tests may run", async () => {
    jest.useFakeTimers();
    try {
      const turns = new Turns();
      await Promise.all([turns.take(), turns.take()]);
    } finally {
      jest.useRealTimers();
    }
  });
});
