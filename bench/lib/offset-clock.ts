import { Clock } from '../../src/common/clock';

/** The system clock plus an adjustable offset: lets a benchmark create sessions "in the past". */
export class OffsetClock extends Clock {
  offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }
}
